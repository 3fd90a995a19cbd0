// Run-time loading of the OpenCL ICD loader: dlopen + dlsym into an lk_cl_api table.
#include "_COpenCLShim.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__APPLE__)
static const char *const default_names[] = {"/System/Library/Frameworks/OpenCL.framework/OpenCL", NULL};
#else
static const char *const default_names[] = {"libOpenCL.so.1", "libOpenCL.so", NULL};
#endif

#define LK_RESOLVE(field, symbol)                                                        \
  do {                                                                                   \
    *(void **)(&api->field) = dlsym(handle, symbol);                                     \
    if (!api->field) {                                                                   \
      snprintf(error, error_capacity, "%s has no symbol %s", opened, symbol);            \
      memset(api, 0, sizeof *api);                                                       \
      return 0;                                                                          \
    }                                                                                    \
  } while (0)

int lk_cl_load(const char *path, lk_cl_api *api, char *error, size_t error_capacity) {
  memset(api, 0, sizeof *api);
  if (!path || !*path) path = getenv("LOSSKERNELS_OPENCL_LIBRARY");
  void *handle = NULL;
  const char *opened = NULL;
  if (path && *path) {
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    opened = path;
    if (!handle) {
      const char *why = dlerror();
      snprintf(error, error_capacity, "cannot load the OpenCL library %s: %s", path, why ? why : "unknown reason");
      return 0;
    }
  } else {
    for (int i = 0; default_names[i] && !handle; i++) {
      handle = dlopen(default_names[i], RTLD_NOW | RTLD_LOCAL);
      opened = default_names[i];
    }
    if (!handle) {
      snprintf(error, error_capacity,
               "no OpenCL loader library (%s) found; install an ICD loader such as ocl-icd-libopencl1",
               default_names[0]);
      return 0;
    }
  }
  LK_RESOLVE(GetPlatformIDs, "clGetPlatformIDs");
  LK_RESOLVE(GetPlatformInfo, "clGetPlatformInfo");
  LK_RESOLVE(GetDeviceIDs, "clGetDeviceIDs");
  LK_RESOLVE(GetDeviceInfo, "clGetDeviceInfo");
  LK_RESOLVE(CreateContext, "clCreateContext");
  LK_RESOLVE(ReleaseContext, "clReleaseContext");
  LK_RESOLVE(CreateCommandQueue, "clCreateCommandQueue");
  LK_RESOLVE(ReleaseCommandQueue, "clReleaseCommandQueue");
  LK_RESOLVE(CreateProgramWithSource, "clCreateProgramWithSource");
  LK_RESOLVE(BuildProgram, "clBuildProgram");
  LK_RESOLVE(GetProgramBuildInfo, "clGetProgramBuildInfo");
  LK_RESOLVE(ReleaseProgram, "clReleaseProgram");
  LK_RESOLVE(CreateKernel, "clCreateKernel");
  LK_RESOLVE(ReleaseKernel, "clReleaseKernel");
  LK_RESOLVE(SetKernelArg, "clSetKernelArg");
  LK_RESOLVE(GetKernelWorkGroupInfo, "clGetKernelWorkGroupInfo");
  LK_RESOLVE(CreateBuffer, "clCreateBuffer");
  LK_RESOLVE(ReleaseMemObject, "clReleaseMemObject");
  LK_RESOLVE(EnqueueWriteBuffer, "clEnqueueWriteBuffer");
  LK_RESOLVE(EnqueueReadBuffer, "clEnqueueReadBuffer");
  LK_RESOLVE(EnqueueCopyBuffer, "clEnqueueCopyBuffer");
  LK_RESOLVE(EnqueueNDRangeKernel, "clEnqueueNDRangeKernel");
  LK_RESOLVE(Finish, "clFinish");
  LK_RESOLVE(Flush, "clFlush");
  LK_RESOLVE(EnqueueFillBuffer, "clEnqueueFillBuffer");
  LK_RESOLVE(GetEventProfilingInfo, "clGetEventProfilingInfo");
  LK_RESOLVE(WaitForEvents, "clWaitForEvents");
  LK_RESOLVE(ReleaseEvent, "clReleaseEvent");
  return 1;
}

int lk_clblast_load(const char *path, lk_clblast_api *api, char *error, size_t error_capacity) {
  memset(api, 0, sizeof *api);
  if (!path || !*path) path = getenv("LOSSKERNELS_CLBLAST_LIBRARY");
  const char *opened = (path && *path) ? path :
#if defined(__APPLE__)
      "libclblast.dylib";
#else
      "libclblast.so.1";
#endif
  void *handle = dlopen(opened, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    snprintf(error, error_capacity, "cannot load CLBlast (%s): %s; install libclblast1 (Debian) for the OpenCL matrix products",
             opened, why ? why : "unknown reason");
    return 0;
  }
  static const char *const names[] = {"CLBlastSgemm", "CLBlastSgemmWithTempBuffer", "CLBlastSGemmTempBufferSize",
                                      "CLBlastSgemmStridedBatched", "CLBlastOverrideParameters"};
  void **slots[] = {(void **)&api->Sgemm, (void **)&api->SgemmWithTempBuffer, (void **)&api->SgemmTempBufferSize,
                    (void **)&api->SgemmStridedBatched, (void **)&api->OverrideParameters};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    *slots[i] = dlsym(handle, names[i]);
    if (!*slots[i]) {
      snprintf(error, error_capacity, "%s has no symbol %s (CLBlast 1.5 or later is needed)", opened, names[i]);
      memset(api, 0, sizeof *api);
      return 0;
    }
  }
  return 1;
}
