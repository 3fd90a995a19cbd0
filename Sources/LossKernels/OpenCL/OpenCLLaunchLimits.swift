/// How large a kernel launch may be: at most `maxWorkItems` work-items in dimension 0 and
/// `maxGroups` work-groups in dimensions 1 and 2.
///
/// The defaults keep every launch valid on the drivers we target: NVIDIA's OpenCL gives wrong
/// results without an error for one-dimensional global sizes above 2^31, and CUDA devices allow
/// 65,535 groups in dimensions 1 and 2. Kernels loop over their range in strides of the launched
/// size, so a capped launch computes the same result. `LOSSKERNELS_OPENCL_MAX_WORK_ITEMS` and
/// `LOSSKERNELS_OPENCL_MAX_GROUPS` lower the caps (a test hook: the strided paths then run at
/// small sizes).
package struct OpenCLLaunchLimits: Sendable, Equatable {
    package var maxWorkItems = 1 << 30
    package var maxGroups = 65_535

    package init() {}

    /// The global sizes to enqueue for `items` work-items per dimension in groups of `local`:
    /// rounded up to whole groups, then capped.
    func globalSizes(_ items: [Int], local: [Int]) -> [Int] {
        zip(items, local).enumerated().map { dimension, pair in
            let (count, size) = pair
            let groups = (count + size - 1) / size
            let cap = dimension == 0 ? Swift.max(1, maxWorkItems / size) : Swift.max(1, maxGroups)
            return Swift.min(groups, cap) * size
        }
    }
}

/// What an opened device is set up with: the fault to inject (tests), the launch limits,
/// whether kernels are timed (`LOSSKERNELS_PROFILE`), extra program build options, CLBlast's
/// tuned parameters (a file) and the split-K rule of long GEMMs.
struct OpenCLDeviceSettings: Sendable, Equatable {
    var fault: OpenCLFault? = nil
    var limits = OpenCLLaunchLimits()
    var profile = false
    var extraBuildOptions = ""
    var clblastParameters: String? = nil
    /// K-slices of a long-K GEMM: nil chooses from the shape and the device; 0 or 1 never splits.
    var splitK: Int? = nil
    /// Bytes of a row slab of the softmax forward: nil or 0 never slabs.
    var slabBytes: Int? = nil
}
