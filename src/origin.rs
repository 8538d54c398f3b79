//! Where a tick runs: its host, the boot and the pid namespace of its process, and its pid. A
//! later tick may free a tick's tasks before their lease expires only when it can prove that
//! tick dead, and it can only prove that of a process it could see: one on the same host, in
//! the same boot and the same pid namespace. Two containers that share a host name (host
//! networking and a shared volume) see each other's pids as absent.

use std::path::Path;

/// The variable that names the host in tick ids, instead of the machine's name.
pub const HOST_VARIABLE: &str = "HTTPAT_HOST";

/// Where one tick runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub host: String,
    /// `/proc/sys/kernel/random/boot_id`: a reboot gives the same pids to other processes.
    pub boot_id: Option<String>,
    /// The pid namespace (`/proc/self/ns/pid`, e.g. `pid:[4026531836]`): pids mean something
    /// only inside it.
    pub pid_ns: Option<String>,
    pub pid: u32,
}

impl Origin {
    /// This process's origin.
    pub fn current() -> Origin {
        Origin {
            host: this_host(),
            boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .ok()
                .map(|id| id.trim().to_string())
                .filter(|id| !id.is_empty()),
            pid_ns: std::fs::read_link("/proc/self/ns/pid")
                .ok()
                .map(|link| link.to_string_lossy().into_owned()),
            pid: std::process::id(),
        }
    }

    /// Whether `other`'s process is one this process can look up: same host, same boot, same
    /// pid namespace (each known on both sides).
    pub fn sees(&self, other: &Origin) -> bool {
        let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
        self.host == other.host
            && same(&self.boot_id, &other.boot_id)
            && same(&self.pid_ns, &other.pid_ns)
    }

    /// Whether `other`'s process is certainly gone: this process can see it, and it is not
    /// there.
    pub fn proves_dead(&self, other: &Origin) -> bool {
        self.sees(other) && other.pid > 0 && !process_alive(other.pid)
    }
}

/// This machine's name as it stands in tick ids (`HTTPAT_HOST` when set; `:` would break the
/// id's fields).
pub fn this_host() -> String {
    let host = std::env::var(HOST_VARIABLE)
        .ok()
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
    host.replace(':', "_")
}

fn process_alive(pid: u32) -> bool {
    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    let Ok(pid) = i32::try_from(pid) else {
        return true;
    };
    // No signal is sent: this only asks whether the process exists. EPERM means it does.
    let exists = matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM));
    // A zombie still answers (a tick killed by SIGKILL is one until its parent reaps it), but it
    // holds nothing any more. Only a /proc of this pid namespace can tell.
    exists && !(proc_is_ours() && state_letter(&pid.to_string()) == Some('Z'))
}

/// The state letter of a process in /proc (`R`, `S`, `Z`, ...), by its /proc name.
fn state_letter(name: &str) -> Option<char> {
    let stat = std::fs::read_to_string(Path::new("/proc").join(name).join("stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Whether /proc numbers processes as this pid namespace does (a container may see its host's).
fn proc_is_ours() -> bool {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| stat.split(' ').next()?.parse::<u32>().ok())
        == Some(std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_proven_dead_only_where_it_can_be_seen() {
        let here = Origin::current();
        assert!(here.sees(&here));
        assert!(!here.proves_dead(&here), "this process is alive");
        let gone = Origin {
            pid: u32::MAX / 2,
            ..here.clone()
        };
        assert!(here.proves_dead(&gone));
        let other_namespace = Origin {
            pid_ns: Some("pid:[1]".to_string()),
            ..gone.clone()
        };
        assert!(!here.proves_dead(&other_namespace));
        let other_boot = Origin {
            boot_id: Some("another boot".to_string()),
            ..gone.clone()
        };
        assert!(!here.proves_dead(&other_boot));
        let unknown = Origin {
            pid_ns: None,
            ..gone.clone()
        };
        assert!(!here.proves_dead(&unknown));
        let other_host = Origin {
            host: "elsewhere".to_string(),
            ..gone
        };
        assert!(!here.proves_dead(&other_host));
    }
}
