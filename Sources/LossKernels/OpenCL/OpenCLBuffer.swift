import _COpenCLShim

/// A device allocation of `count` elements of `elementSize` bytes, released when the last
/// reference goes away — or, for a `recyclable` buffer (a device-resident result), handed back to
/// its device for the next result of the same size (`OpenCLDevice.makeResultBuffer`).
final class OpenCLBuffer: @unchecked Sendable {
    let device: OpenCLDevice
    let mem: cl_mem
    let count: Int
    let elementSize: Int
    let recyclable: Bool

    init(device: OpenCLDevice, mem: cl_mem, count: Int, elementSize: Int, recyclable: Bool = false) {
        self.device = device
        self.mem = mem
        self.count = count
        self.elementSize = elementSize
        self.recyclable = recyclable
    }

    /// Hands the memory over to a new owner (this object then releases nothing).
    func takeMemory() -> cl_mem {
        released = true
        return mem
    }
    private var released = false

    deinit {
        if released { return }
        if recyclable, device.recycle(mem, bytes: Swift.max(1, count) * elementSize) { return }
        _ = device.runtime.api.ReleaseMemObject(mem)
    }
}
