//! Finding the program of a process resource.
//!
//! A program name without a `/` is looked up on `PATH` first, then beside the running `pfi`
//! executable, so the `pfi-demo` binary shipped next to `pfi` is always found. A name with a
//! `/` is used as written (relative to the resource's folder).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The program to execute for `name`, or `None` when no such program exists.
pub fn resolve_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let beside_pfi = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    find(name, std::env::var_os("PATH"), beside_pfi)
}

fn find(name: &str, path: Option<OsString>, beside_pfi: Option<PathBuf>) -> Option<PathBuf> {
    let on_path = path
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(beside_pfi)
        .map(|folder| folder.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn executable(folder: &Path, name: &str) -> PathBuf {
        let path = folder.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn path_comes_before_the_folder_of_pfi() {
        let on_path = tempfile::tempdir().unwrap();
        let beside = tempfile::tempdir().unwrap();
        let first = executable(on_path.path(), "tool");
        executable(beside.path(), "tool");
        let found = find(
            "tool",
            Some(on_path.path().as_os_str().to_owned()),
            Some(beside.path().to_path_buf()),
        );
        assert_eq!(found, Some(first));
    }

    #[test]
    fn falls_back_to_the_folder_of_pfi_and_skips_non_executables() {
        let on_path = tempfile::tempdir().unwrap();
        let beside = tempfile::tempdir().unwrap();
        std::fs::write(on_path.path().join("tool"), "data").unwrap();
        let bundled = executable(beside.path(), "tool");
        let found = find(
            "tool",
            Some(on_path.path().as_os_str().to_owned()),
            Some(beside.path().to_path_buf()),
        );
        assert_eq!(found, Some(bundled));
        assert_eq!(
            find("missing", None, Some(beside.path().to_path_buf())),
            None
        );
    }

    #[test]
    fn names_with_a_slash_are_used_as_written() {
        assert_eq!(resolve_program("./bin/x"), Some(PathBuf::from("./bin/x")));
    }
}
