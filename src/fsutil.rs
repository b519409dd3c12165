//! Small filesystem helpers: atomic writes so a crash or a full disk never leaves half a file.

use std::io::Write;
use std::path::Path;

/// Write to a temporary file beside `path`, fsync, then rename over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Like write_atomic but the file is readable by its owner only (private keys).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Moves the finished file `from` to `to`: with `replace`, a rename (atomic; the old `to` is
/// gone only once the new one is whole); without, never over an existing `to` (an error of kind
/// `AlreadyExists`, and `from` stays). The no-replace move is a hard link, which the kernel
/// refuses when the name is taken, then the unlink of `from`; on a filesystem without hard links
/// (FAT on a USB stick) a check then a rename, which another writer could race.
pub fn finish_file(from: &Path, to: &Path, replace: bool) -> std::io::Result<()> {
    if replace {
        return std::fs::rename(from, to);
    }
    match std::fs::hard_link(from, to) {
        Ok(()) => {
            let _ = std::fs::remove_file(from);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) if std::fs::symlink_metadata(to).is_ok() => Err(std::io::ErrorKind::AlreadyExists.into()),
        Err(_) => std::fs::rename(from, to),
    }
}

/// Is process `pid` still running? (kill(pid, 0) fails with ESRCH when it is gone.) Used to
/// tell the leftovers of a killed command from those of one still at work.
pub fn process_alive(pid: i32) -> bool {
    (unsafe { libc::kill(pid, 0) }) == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Removes `NAME.partial-PID` files beside `file` (the temporary files a writer of `file`
/// renames into place at the end) whose process is gone: what a killed backup or export
/// left behind. Another process still writing one is left alone.
pub fn remove_stale_partials(file: &Path) {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name().and_then(|n| n.to_str())) else { return };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let prefix = format!("{name}.partial-");
    for e in entries.flatten() {
        let n = e.file_name();
        let Some(pid) = n.to_str().and_then(|n| n.strip_prefix(&prefix)).and_then(|p| p.parse::<i32>().ok()) else { continue };
        if pid as u32 != std::process::id() && !process_alive(pid) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
