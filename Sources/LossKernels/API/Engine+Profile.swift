extension Engine {
    /// What every OpenCL device this engine has opened has done since it was opened or since
    /// `resetOpenCLProfile()`: buffer allocations, kernel launches, transfers and host waits
    /// (always counted) and, when profiling (`LOSSKERNELS_PROFILE=1`), each kernel's launches and
    /// device time. Waits for the queued work first when profiling. Empty when no device was opened.
    ///
    /// Engines that share a device (every engine opens its own context) do not see each other's work.
    public func openCLProfile() -> [OpenCLProfile] {
        scheduler.devices.openedDevices.map { device in device.withExclusiveAccess { device.profile() } }
    }

    /// Zeroes the counters and kernel times of `openCLProfile()`.
    public func resetOpenCLProfile() {
        for device in scheduler.devices.openedDevices { device.withExclusiveAccess { device.resetProfile() } }
    }

    /// Frees the scratch buffers the OpenCL devices of this engine keep between calls (partials,
    /// statistics, the margin head's logits tile, host-resident inputs and outputs: the largest of
    /// each kind seen so far) and returns their bytes. A call of the same shape then allocates
    /// them again; device matrices and training heads are not affected.
    @discardableResult
    public func releaseOpenCLScratch() -> Int {
        scheduler.devices.openedDevices.reduce(0) { total, device in total + device.withExclusiveAccess { device.releaseScratch() } }
    }

    /// Waits until every OpenCL device this engine has opened has finished its queued work.
    /// Device-resident calls return once their work is queued; reading a result back waits for it
    /// anyway, so this is needed only to time device work or to bound the queue.
    public func synchronize() throws {
        for device in scheduler.devices.openedDevices { try device.withExclusiveAccess { try device.finish() } }
    }
}
