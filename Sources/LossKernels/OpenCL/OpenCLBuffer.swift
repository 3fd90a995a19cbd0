import _COpenCLShim

/// A device allocation of `count` elements of `elementSize` bytes, released when the last
/// reference goes away.
final class OpenCLBuffer: @unchecked Sendable {
    let device: OpenCLDevice
    let mem: cl_mem
    let count: Int
    let elementSize: Int

    init(device: OpenCLDevice, mem: cl_mem, count: Int, elementSize: Int) {
        self.device = device
        self.mem = mem
        self.count = count
        self.elementSize = elementSize
    }

    deinit { _ = device.runtime.api.ReleaseMemObject(mem) }
}
