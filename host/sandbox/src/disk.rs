//! The `disk` capability: statvfs of a granted path.

use std::path::PathBuf;

use super::bindings::picket::plugin::disk::{self, Usage};
use super::grants::normalize;
use super::state::HostState;
use super::types::{Error as CapError, ErrorKind};

impl disk::Host for HostState {
    async fn stat(&mut self, path: String) -> Result<Usage, CapError> {
        let requested = PathBuf::from(&path);
        let Some(normal) = normalize(&requested).filter(|p| p.is_absolute()) else {
            return Err(CapError { kind: ErrorKind::Invalid, message: format!("{path:?} is not an absolute path without \"..\"") });
        };
        if !self.run.grants.allows_disk(&normal) {
            return Err(self.deny(format!("disk stat of {path}")));
        }
        // statvfs can block on a hung network filesystem: keep it off the runtime threads.
        let stat = tokio::task::spawn_blocking(move || rustix::fs::statvfs(&normal)).await;
        match stat {
            Ok(Ok(s)) => {
                let frsize = s.f_frsize.max(1);
                Ok(Usage {
                    total_bytes: s.f_blocks * frsize,
                    free_bytes: s.f_bfree * frsize,
                    available_bytes: s.f_bavail * frsize,
                    total_inodes: s.f_files,
                    free_inodes: s.f_ffree,
                })
            }
            Ok(Err(e)) => Err(CapError { kind: ErrorKind::Io, message: format!("{path}: {e}") }),
            Err(e) => Err(CapError { kind: ErrorKind::Io, message: format!("{path}: {e}") }),
        }
    }
}
