//! The commit this build was made from, for `/server/info` (administrators): `BUILD_COMMIT`
//! when the builder sets it (a source tree without `.git`), else `git rev-parse HEAD`, else
//! "unknown". Re-run when HEAD moves, so a build never states an older commit than its own.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=BUILD_COMMIT");
    let git_dir = Command::new("git")
        .args(["rev-parse", "--absolute-git-dir"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    if let Some(git_dir) = &git_dir {
        let git_dir = Path::new(git_dir);
        println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
        println!(
            "cargo:rerun-if-changed={}",
            git_dir.join("packed-refs").display()
        );
        if let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD"))
            && let Some(reference) = head.trim().strip_prefix("ref: ")
        {
            // A worktree's HEAD is in its own git dir; its branches are in the common one.
            let common = Command::new("git")
                .args(["rev-parse", "--git-common-dir"])
                .output()
                .ok()
                .filter(|out| out.status.success())
                .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
            for dir in [Some(git_dir.display().to_string()), common]
                .into_iter()
                .flatten()
            {
                println!(
                    "cargo:rerun-if-changed={}",
                    Path::new(&dir).join(reference).display()
                );
            }
        }
    }
    let commit = std::env::var("BUILD_COMMIT")
        .ok()
        .filter(|commit| !commit.trim().is_empty())
        .or_else(|| {
            Command::new("git")
                .args(["rev-parse", "HEAD"])
                .output()
                .ok()
                .filter(|out| out.status.success())
                .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=BUILD_COMMIT={commit}");
}
