import Foundation

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
struct ProgressBar {
    let total: Int
    let label: String
    let enabled = isatty(2) != 0
    let width = 30

    func update(_ done: Int, detail: String) {
        guard enabled, total > 0 else { return }
        let filled = min(width, done * width / total)
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total) \(detail)\u{1B}[K".utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
