//! Whole-process locks on a file, released by the kernel when the process dies however it
//! ends (`kill -9` included). Node has no file locking of its own; the daemon and the backup
//! server take one on their data dir before Veilid starts, so two processes never share a
//! node's store.
//!
//! Linux uses open-file-description locks (`F_OFD_SETLK`): unlike POSIX record locks they
//! are not dropped when the process closes some other descriptor of the same file (reading
//! the lock file would otherwise release it), and `F_OFD_GETLK` lets another process ask
//! whether the lock is held without taking it. Elsewhere `flock` is used, and asking takes
//! a shared lock for an instant.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Mutex;

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Locks held by this process, by path: the open file keeps the lock.
static HELD: Mutex<Option<HashMap<String, File>>> = Mutex::new(None);

fn io_error(what: &str, path: &str, error: std::io::Error) -> Error {
  Error::new(Status::GenericFailure, format!("{what} {path}: {error}"))
}

fn read_owner(file: &mut File) -> std::io::Result<String> {
  let mut text = String::new();
  file.seek(SeekFrom::Start(0))?;
  file.read_to_string(&mut text)?;
  Ok(text)
}

#[cfg(target_os = "linux")]
mod os {
  use std::fs::File;
  use std::os::fd::AsRawFd;

  fn whole_file(kind: libc::c_int) -> libc::flock {
    // SAFETY: `flock` is a plain C struct; all-zero is a valid value for every field.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock
  }

  /// `Ok(true)` when taken, `Ok(false)` when another open file description holds it.
  pub fn try_lock(file: &File) -> std::io::Result<bool> {
    let mut lock = whole_file(libc::F_WRLCK);
    // SAFETY: a valid descriptor and a pointer to a live `flock`.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &mut lock) } == 0 {
      return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
      Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
      _ => Err(error),
    }
  }

  pub fn is_locked(file: &File) -> std::io::Result<bool> {
    let mut lock = whole_file(libc::F_WRLCK);
    // SAFETY: as above; F_OFD_GETLK only writes into `lock`.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut lock) } != 0 {
      return Err(std::io::Error::last_os_error());
    }
    Ok(lock.l_type != libc::F_UNLCK as libc::c_short)
  }
}

#[cfg(not(target_os = "linux"))]
mod os {
  use std::fs::{File, TryLockError};

  pub fn try_lock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
      Ok(()) => Ok(true),
      Err(TryLockError::WouldBlock) => Ok(false),
      Err(TryLockError::Error(error)) => Err(error),
    }
  }

  pub fn is_locked(file: &File) -> std::io::Result<bool> {
    match file.try_lock_shared() {
      Ok(()) => file.unlock().map(|()| false),
      Err(TryLockError::WouldBlock) => Ok(true),
      Err(TryLockError::Error(error)) => Err(error),
    }
  }
}

/// Takes the exclusive lock on `path` (created with mode 0600) for as long as this process
/// lives, and writes `owner` into the file. Returns `null` when taken, or the text the
/// current holder wrote when another process holds it (empty while that one is still
/// writing it). Taking a lock this process already holds returns `null` again.
#[napi]
pub fn lock_file(path: String, owner: String) -> Result<Option<String>> {
  let mut held = HELD.lock().map_err(|_| Error::from_reason("lock table poisoned"))?;
  let held = held.get_or_insert_with(HashMap::new);
  if held.contains_key(&path) {
    return Ok(None);
  }
  let mut file = OpenOptions::new()
    .read(true)
    .write(true)
    .create(true)
    .truncate(false)
    .mode(0o600)
    .open(&path)
    .map_err(|e| io_error("open", &path, e))?;
  if !os::try_lock(&file).map_err(|e| io_error("lock", &path, e))? {
    return read_owner(&mut file)
      .map(Some)
      .map_err(|e| io_error("read", &path, e));
  }
  let write = |file: &mut File| -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(owner.as_bytes())?;
    file.sync_data()
  };
  write(&mut file).map_err(|e| io_error("write", &path, e))?;
  held.insert(path, file);
  Ok(None)
}

/// Whether some process holds the lock on `path`: the text its holder wrote, or `null` when
/// nobody holds it (or the file does not exist). Never takes the lock on Linux.
#[napi]
pub fn lock_file_holder(path: String) -> Result<Option<String>> {
  let mut file = match File::open(&path) {
    Ok(file) => file,
    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
    Err(e) => return Err(io_error("open", &path, e)),
  };
  if !os::is_locked(&file).map_err(|e| io_error("lock", &path, e))? {
    return Ok(None);
  }
  read_owner(&mut file)
    .map(Some)
    .map_err(|e| io_error("read", &path, e))
}

/// Gives back a lock this process took with `lockFile` (the process's end does it too).
#[napi]
pub fn unlock_file(path: String) -> Result<bool> {
  let mut held = HELD.lock().map_err(|_| Error::from_reason("lock table poisoned"))?;
  Ok(held.get_or_insert_with(HashMap::new).remove(&path).is_some())
}
