// The OpenCL shim: loads the ICD loader (libOpenCL.so.1) at run time, so that LossKernels starts on
// machines without OpenCL, and carries the OpenCL C sources of Kernels/*.cl compiled into the binary.
// Everything else (contexts, program caches, launches) lives on the Swift side.
#ifndef LOSSKERNELS_OPENCL_SHIM_H
#define LOSSKERNELS_OPENCL_SHIM_H

#include <stddef.h>
#include <CL/cl.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The OpenCL 1.2 entry points the library uses, resolved from the loader with dlsym.
typedef struct lk_cl_api {
  cl_int (*GetPlatformIDs)(cl_uint, cl_platform_id *, cl_uint *);
  cl_int (*GetPlatformInfo)(cl_platform_id, cl_platform_info, size_t, void *, size_t *);
  cl_int (*GetDeviceIDs)(cl_platform_id, cl_device_type, cl_uint, cl_device_id *, cl_uint *);
  cl_int (*GetDeviceInfo)(cl_device_id, cl_device_info, size_t, void *, size_t *);
  cl_context (*CreateContext)(const cl_context_properties *, cl_uint, const cl_device_id *,
                              void (*)(const char *, const void *, size_t, void *), void *, cl_int *);
  cl_int (*ReleaseContext)(cl_context);
  cl_command_queue (*CreateCommandQueue)(cl_context, cl_device_id, cl_command_queue_properties, cl_int *);
  cl_int (*ReleaseCommandQueue)(cl_command_queue);
  cl_program (*CreateProgramWithSource)(cl_context, cl_uint, const char **, const size_t *, cl_int *);
  cl_int (*BuildProgram)(cl_program, cl_uint, const cl_device_id *, const char *,
                         void (*)(cl_program, void *), void *);
  cl_int (*GetProgramBuildInfo)(cl_program, cl_device_id, cl_program_build_info, size_t, void *, size_t *);
  cl_int (*ReleaseProgram)(cl_program);
  cl_kernel (*CreateKernel)(cl_program, const char *, cl_int *);
  cl_int (*ReleaseKernel)(cl_kernel);
  cl_int (*SetKernelArg)(cl_kernel, cl_uint, size_t, const void *);
  cl_int (*GetKernelWorkGroupInfo)(cl_kernel, cl_device_id, cl_kernel_work_group_info, size_t, void *, size_t *);
  cl_mem (*CreateBuffer)(cl_context, cl_mem_flags, size_t, void *, cl_int *);
  cl_int (*ReleaseMemObject)(cl_mem);
  cl_int (*EnqueueWriteBuffer)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void *, cl_uint,
                               const cl_event *, cl_event *);
  cl_int (*EnqueueReadBuffer)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, void *, cl_uint,
                              const cl_event *, cl_event *);
  cl_int (*EnqueueCopyBuffer)(cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint,
                              const cl_event *, cl_event *);
  cl_int (*EnqueueNDRangeKernel)(cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *,
                                 const size_t *, cl_uint, const cl_event *, cl_event *);
  cl_int (*Finish)(cl_command_queue);
  cl_int (*Flush)(cl_command_queue);
  cl_int (*EnqueueFillBuffer)(cl_command_queue, cl_mem, const void *, size_t, size_t, size_t, cl_uint,
                              const cl_event *, cl_event *);
  cl_int (*GetEventProfilingInfo)(cl_event, cl_profiling_info, size_t, void *, size_t *);
  cl_int (*WaitForEvents)(cl_uint, const cl_event *);
  cl_int (*ReleaseEvent)(cl_event);
} lk_cl_api;

/// Opens the OpenCL loader at `path` (NULL: `LOSSKERNELS_OPENCL_LIBRARY`, else libOpenCL.so.1 /
/// the platform's usual name) and resolves every entry point into the caller's `api` (no heap
/// allocation). Returns 1 on success; returns 0, zeroes `api` and writes a one-line reason into
/// `error` when the library or a symbol is missing. The library stays loaded until the process
/// ends (a loader is never unloaded: drivers keep threads inside it).
int lk_cl_load(const char *path, lk_cl_api *api, char *error, size_t error_capacity);

/// CLBlast's SGEMM entry points (clblast_c.h, CLBlast ≥ 1.5), resolved at run time from
/// libclblast.so.1. Layout 101 = row major, 102 = column major; transpose 111 = no, 112 = yes;
/// precision 32 = single. Each returns 0 on success, an OpenCL or CLBlast status otherwise.
typedef struct lk_clblast_api {
  int (*Sgemm)(int layout, int a_transpose, int b_transpose, size_t m, size_t n, size_t k, float alpha,
               cl_mem a, size_t a_offset, size_t a_ld, cl_mem b, size_t b_offset, size_t b_ld, float beta,
               cl_mem c, size_t c_offset, size_t c_ld, cl_command_queue *queue, cl_event *event);
  /// Sgemm with a caller-owned temporary buffer (CLBlast allocates nothing).
  int (*SgemmWithTempBuffer)(int layout, int a_transpose, int b_transpose, size_t m, size_t n, size_t k,
                             float alpha, cl_mem a, size_t a_offset, size_t a_ld, cl_mem b, size_t b_offset,
                             size_t b_ld, float beta, cl_mem c, size_t c_offset, size_t c_ld,
                             cl_command_queue *queue, cl_event *event, cl_mem temp_buffer);
  /// The temporary buffer size in bytes SgemmWithTempBuffer needs for these arguments.
  int (*SgemmTempBufferSize)(int layout, int a_transpose, int b_transpose, size_t m, size_t n, size_t k,
                             size_t a_offset, size_t a_ld, size_t b_offset, size_t b_ld, size_t c_offset,
                             size_t c_ld, cl_command_queue *queue, size_t *temp_buffer_size);
  /// `batch_count` SGEMMs whose operands start `*_stride` elements apart.
  int (*SgemmStridedBatched)(int layout, int a_transpose, int b_transpose, size_t m, size_t n, size_t k,
                             float alpha, cl_mem a, size_t a_offset, size_t a_ld, size_t a_stride, cl_mem b,
                             size_t b_offset, size_t b_ld, size_t b_stride, float beta, cl_mem c,
                             size_t c_offset, size_t c_ld, size_t c_stride, size_t batch_count,
                             cl_command_queue *queue, cl_event *event);
  /// Installs tuned kernel parameters (the tuner's output) for `kernel_name` on `device`.
  int (*OverrideParameters)(cl_device_id device, const char *kernel_name, int precision, size_t count,
                            const char **names, const size_t *values);
} lk_clblast_api;

/// Opens CLBlast (`path`, else `LOSSKERNELS_CLBLAST_LIBRARY`, else libclblast.so.1) after the
/// OpenCL loader, and resolves the entry points above into the caller's `api`. Returns 1 on success; 0 with
/// `api` zeroed and a one-line reason in `error` when it is missing.
int lk_clblast_load(const char *path, lk_clblast_api *api, char *error, size_t error_capacity);

/// The symbolic name of an OpenCL error code ("CL_OUT_OF_RESOURCES"), or "CL_UNKNOWN_ERROR".
const char *lk_cl_error_name(cl_int code);

/// Number of embedded kernel files.
size_t lk_kernel_file_count(void);
/// Name (e.g. "softmax.cl") and NUL-terminated source text of embedded kernel file `index`.
const char *lk_kernel_file_name(size_t index);
const char *lk_kernel_file_source(size_t index);

#ifdef __cplusplus
}
#endif
#endif
