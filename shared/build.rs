//! The commit this build was made from, for `/server/info` (administrators): `BUILD_COMMIT`
//! when the builder sets it (a source tree without `.git`), else `git rev-parse HEAD`, else
//! "unknown". Re-run when HEAD moves, so a build never states an older commit than its own.

use std::path::Path;
use std::process::Command;

/// A git command's trimmed output, if it ran and succeeded.
fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Only files that exist: cargo re-runs a build script whose watched path is missing on every
/// build, which would rebuild this crate (and every function) each time.
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=BUILD_COMMIT");
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let git_dir = Path::new(&git_dir);
        watch(&git_dir.join("HEAD"));
        // Every commit and checkout appends here, even when the branch's loose ref did not
        // exist before (only in packed-refs, after `git gc`) and so was not watched.
        watch(&git_dir.join("logs").join("HEAD"));
        // A worktree's HEAD is in its own git dir; its branches are in the common one.
        let common = git(&["rev-parse", "--git-common-dir"]);
        for dir in std::iter::once(git_dir.to_path_buf()).chain(common.map(Into::into)) {
            watch(&dir.join("packed-refs"));
            if let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD"))
                && let Some(reference) = head.trim().strip_prefix("ref: ")
            {
                watch(&dir.join(reference));
            }
        }
    }
    let commit = std::env::var("BUILD_COMMIT")
        .ok()
        .filter(|commit| !commit.trim().is_empty())
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=BUILD_COMMIT={commit}");
}
