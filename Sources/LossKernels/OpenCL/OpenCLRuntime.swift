import Foundation
import _COpenCLShim

/// The OpenCL entry points loaded at run time through the shim, and device discovery.
/// Loading happens once per process; when it fails, `OpenCLRuntime.shared` holds the reason.
final class OpenCLRuntime: @unchecked Sendable {
    /// The resolved function table; immutable after loading.
    let api: lk_cl_api

    private init(api: lk_cl_api) { self.api = api }

    /// The process's OpenCL runtime, or why there is none (no loader library, missing symbols).
    static let shared: Result<OpenCLRuntime, LossKernelsError> = {
        var message = [CChar](repeating: 0, count: 512)
        var table = lk_cl_api()
        guard lk_cl_load(nil, &table, &message, message.count) == 1 else {
            return .failure(.openCLUnavailable(reason: String(nulTerminated: message)))
        }
        return .success(OpenCLRuntime(api: table))
    }()

    /// Throws `.openCLFailure` naming `call` unless `code` is CL_SUCCESS.
    static func check(_ code: cl_int, _ call: String) throws {
        guard code == CL_SUCCESS else {
            throw LossKernelsError.openCLFailure(call: call, code: code, name: String(cString: lk_cl_error_name(code)), buildLog: nil)
        }
    }

    /// Every platform and device the loader reports, in platform then device order.
    func devices() throws -> [OpenCLDeviceDescriptor] {
        var platformCount: cl_uint = 0
        let status = api.GetPlatformIDs(0, nil, &platformCount)
        if status == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || platformCount == 0 { return [] }
        try Self.check(status, "clGetPlatformIDs")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        try Self.check(api.GetPlatformIDs(platformCount, &platforms, nil), "clGetPlatformIDs")
        var found: [OpenCLDeviceDescriptor] = []
        for (platformIndex, platform) in platforms.enumerated() {
            guard let platform else { continue }
            let platformName = platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
            var deviceCount: cl_uint = 0
            let code = api.GetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &deviceCount)
            if code == CL_DEVICE_NOT_FOUND || deviceCount == 0 { continue }
            try Self.check(code, "clGetDeviceIDs")
            var ids = [cl_device_id?](repeating: nil, count: Int(deviceCount))
            try Self.check(api.GetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), deviceCount, &ids, nil), "clGetDeviceIDs")
            for (deviceIndex, id) in ids.enumerated() {
                guard let id else { continue }
                let type: cl_device_type = deviceValue(id, cl_device_info(CL_DEVICE_TYPE)) ?? 0
                let kind: OpenCLDeviceInfo.Kind
                if type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 {
                    kind = .gpu
                } else if type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 {
                    kind = .accelerator
                } else if type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 {
                    kind = .cpu
                } else {
                    kind = .other
                }
                let info = OpenCLDeviceInfo(
                    platformIndex: platformIndex, deviceIndex: deviceIndex, platformName: platformName,
                    name: deviceString(id, cl_device_info(CL_DEVICE_NAME)),
                    vendor: deviceString(id, cl_device_info(CL_DEVICE_VENDOR)),
                    kind: kind,
                    computeUnits: Int(deviceValue(id, cl_device_info(CL_DEVICE_MAX_COMPUTE_UNITS)) as cl_uint? ?? 0),
                    globalMemoryBytes: Int(deviceValue(id, cl_device_info(CL_DEVICE_GLOBAL_MEM_SIZE)) as cl_ulong? ?? 0),
                    localMemoryBytes: Int(deviceValue(id, cl_device_info(CL_DEVICE_LOCAL_MEM_SIZE)) as cl_ulong? ?? 0),
                    maxAllocationBytes: Int(deviceValue(id, cl_device_info(CL_DEVICE_MAX_MEM_ALLOC_SIZE)) as cl_ulong? ?? 0),
                    maxWorkGroupSize: Int(deviceValue(id, cl_device_info(CL_DEVICE_MAX_WORK_GROUP_SIZE)) as Int? ?? 1),
                    openCLCVersion: deviceString(id, cl_device_info(CL_DEVICE_OPENCL_C_VERSION)),
                    driverVersion: deviceString(id, cl_device_info(CL_DRIVER_VERSION)))
                found.append(OpenCLDeviceDescriptor(platform: platform, device: id, info: info))
            }
        }
        return found
    }

    private func platformString(_ platform: cl_platform_id, _ param: cl_platform_info) -> String {
        var size = 0
        guard api.GetPlatformInfo(platform, param, 0, nil, &size) == CL_SUCCESS, size > 0 else { return "" }
        var bytes = [CChar](repeating: 0, count: size + 1)
        guard api.GetPlatformInfo(platform, param, size, &bytes, nil) == CL_SUCCESS else { return "" }
        return String(nulTerminated: bytes).trimmingCharacters(in: .whitespaces)
    }

    private func deviceString(_ device: cl_device_id, _ param: cl_device_info) -> String {
        var size = 0
        guard api.GetDeviceInfo(device, param, 0, nil, &size) == CL_SUCCESS, size > 0 else { return "" }
        var bytes = [CChar](repeating: 0, count: size + 1)
        guard api.GetDeviceInfo(device, param, size, &bytes, nil) == CL_SUCCESS else { return "" }
        return String(nulTerminated: bytes).trimmingCharacters(in: .whitespaces)
    }

    private func deviceValue<T>(_ device: cl_device_id, _ param: cl_device_info) -> T? {
        let size = MemoryLayout<T>.size
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<T>.alignment)
        defer { raw.deallocate() }
        guard api.GetDeviceInfo(device, param, size, raw, nil) == CL_SUCCESS else { return nil }
        return raw.load(as: T.self)
    }
}

/// A device as the loader reports it, with the handles needed to open it.
struct OpenCLDeviceDescriptor: @unchecked Sendable {
    let platform: cl_platform_id
    let device: cl_device_id
    let info: OpenCLDeviceInfo
}

/// What `losskernels devices` and the scheduler know about an OpenCL device.
public struct OpenCLDeviceInfo: Sendable, Equatable, Codable {
    /// The device type as OpenCL reports it.
    public enum Kind: String, Sendable, Codable { case gpu, cpu, accelerator, other }
    public let platformIndex: Int
    public let deviceIndex: Int
    public let platformName: String
    public let name: String
    public let vendor: String
    public let kind: Kind
    public let computeUnits: Int
    public let globalMemoryBytes: Int
    public let localMemoryBytes: Int
    public let maxAllocationBytes: Int
    public let maxWorkGroupSize: Int
    public let openCLCVersion: String
    public let driverVersion: String
}

extension String {
    /// The UTF-8 text of a NUL-terminated C character buffer (up to the first NUL).
    init(nulTerminated bytes: [CChar]) {
        self.init(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
