//! Link libevbus: $EVBUS_LIB_DIR if set (with an rpath, so tests run from
//! the build tree), else the repository's build/lib if it holds
//! libevbus.so, else the system's installed library.
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=EVBUS_LIB_DIR");
    println!("cargo:rerun-if-changed=build.rs");
    let dir = match env::var_os("EVBUS_LIB_DIR") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => {
            let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
            let tree = manifest.join("../../build/lib");
            if tree.join("libevbus.so").exists() {
                Some(tree.canonicalize().unwrap_or(tree))
            } else {
                None
            }
        }
    };
    if let Some(dir) = dir {
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    }
    println!("cargo:rustc-link-lib=dylib=evbus");
}
