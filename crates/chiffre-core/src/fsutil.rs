//! Writing files safely: a file appears complete or not at all.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file being written atomically: the bytes go to a temporary file beside
/// the target (`.NAME.tmp-PID`), and [`AtomicFile::commit`] flushes it to
/// disk and renames it over the target. Dropped without a commit (an error,
/// a refused download), the temporary file is removed: nothing half-written
/// stays. A temporary file left by a killed writer (a `.NAME.tmp-PID` whose
/// process is gone) is removed by the next write of the same file.
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    /// Starts writing `target` (through its temporary file).
    pub fn create(target: &Path) -> io::Result<Self> {
        let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("out");
        remove_stale_temps(parent_dir(target), name);
        let temp = parent_dir(target).join(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&temp)?;
        Ok(AtomicFile { target: target.to_path_buf(), temp, file: Some(file) })
    }

    /// The temporary file, to read back what was written before committing.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Flushes the data to disk and renames the temporary file over the target.
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(file) = self.file.take() {
            file.sync_all()?;
        }
        std::fs::rename(&self.temp, &self.target)?;
        // Make the rename itself durable where the platform allows it.
        if let Ok(dir) = File::open(parent_dir(&self.target)) {
            let _ = dir.sync_all();
        }
        self.temp = PathBuf::new();
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(file) => file.write(buf),
            None => Err(io::Error::other("atomic file already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            self.file.take();
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Removes the temporary files `.NAME.tmp-PID` in `dir` whose writer is gone
/// (killed before it could commit or clean up). Where it cannot tell whether
/// a process lives (no `/proc`), it leaves them: another process may be
/// writing the same file. Best effort: errors are ignored.
fn remove_stale_temps(dir: &Path, name: &str) {
    let processes = Path::new("/proc");
    if !processes.join("self").exists() {
        return;
    }
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        let is_pid = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
        if is_pid && pid != std::process::id().to_string() && !processes.join(pid).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically (see [`AtomicFile`]): a crash or an
/// error leaves either the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn an_uncommitted_file_leaves_nothing_and_a_committed_one_replaces_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("m.bin");
        std::fs::write(&target, b"old").unwrap();
        let mut half = AtomicFile::create(&target).unwrap();
        half.write_all(b"half").unwrap();
        assert_eq!(names(dir.path()).len(), 2, "the temporary file sits beside the target while writing");
        drop(half);
        assert_eq!(names(dir.path()), vec!["m.bin"]);
        assert_eq!(std::fs::read(&target).unwrap(), b"old", "an abandoned write leaves the old file");
        write_atomic(&target, b"new").unwrap();
        assert_eq!(names(dir.path()), vec!["m.bin"]);
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn a_killed_writers_temporary_file_is_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("m.bin");
        // PIDs above the kernel's maximum (4194304) never run; PID 1 always does.
        let dead = dir.path().join(".m.bin.tmp-99999999");
        let alive = dir.path().join(".m.bin.tmp-1");
        let other = dir.path().join(".other.bin.tmp-99999999");
        for path in [&dead, &alive, &other] {
            std::fs::write(path, b"half").unwrap();
        }
        write_atomic(&target, b"new").unwrap();
        let expected: Vec<String> = if Path::new("/proc/self").exists() {
            vec![".m.bin.tmp-1".into(), ".other.bin.tmp-99999999".into(), "m.bin".into()]
        } else {
            vec![".m.bin.tmp-1".into(), ".m.bin.tmp-99999999".into(), ".other.bin.tmp-99999999".into(), "m.bin".into()]
        };
        assert_eq!(names(dir.path()), expected);
    }
}
