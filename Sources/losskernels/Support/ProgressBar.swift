import Foundation

/// A progress bar on stderr, so that stdout stays clean for `--json` and `--csv`: redrawn in
/// place when stderr is a terminal; otherwise one line per update when `linesWhenPiped`, else
/// nothing. Nothing is shown before `delay` seconds have passed (short runs stay quiet).
/// Used by `train` (each epoch's steps) and `bench sweep` (its sizes, after 2 s).
final class ProgressBar {
    let total: Int
    let label: String
    let delay: Double
    let linesWhenPiped: Bool
    private let start = DispatchTime.now().uptimeNanoseconds
    private let terminal = isatty(STDERR_FILENO) == 1
    private var shown = false

    init(total: Int, label: String, delay: Double = 0, linesWhenPiped: Bool = false) {
        self.total = total
        self.label = label
        self.delay = delay
        self.linesWhenPiped = linesWhenPiped
    }

    /// Seconds since the bar was made.
    var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    /// Shows `done` of `total`, with `detail` after the bar.
    func update(_ done: Int, detail: String) {
        guard total > 0, terminal || linesWhenPiped, elapsed >= delay else { return }
        shown = true
        let width = 30, filled = min(width, done * width / total)
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
        let line = "\(label) [\(bar)] \(done)/\(total) \(detail) \(String(format: "%.1f", elapsed)) s"
        FileHandle.standardError.write(Data((terminal ? "\r\(line)\u{1B}[K" : line + "\n").utf8))
    }

    /// Clears the bar from a terminal.
    func finish() {
        if shown && terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
