//! The file store: owner-only permissions, atomic replacement, concurrent writers.

use std::path::PathBuf;

use classroom::auth::{FileStore, RefreshToken, StoredToken, TokenStore};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("classroom-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn token(n: usize) -> StoredToken {
    StoredToken {
        refresh_token: Some(RefreshToken::new(format!(
            "1//refresh-{n}-{}",
            "x".repeat(n % 4096)
        ))),
        access_token: Some(format!("ya29.access-{n}")),
        expires_at: None,
        scopes: Some(vec![
            "https://www.googleapis.com/auth/classroom.courses".into(),
        ]),
    }
}

#[test]
fn saves_loads_and_clears() {
    let dir = temp_dir("roundtrip");
    let store = FileStore::new(dir.join("token.json"));
    assert!(store.load().unwrap().is_none());
    assert!(!store.has_refresh_token());
    store.save(&token(1)).unwrap();
    assert_eq!(store.load().unwrap(), Some(token(1)));
    assert!(store.has_refresh_token());
    store.clear().unwrap();
    assert!(store.load().unwrap().is_none());
    store.clear().unwrap();
    std::fs::write(store.path(), "{not json").unwrap();
    let error = store.load().unwrap_err();
    assert!(error.to_string().contains("not valid JSON"), "{error}");
}

#[cfg(unix)]
#[test]
fn the_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("mode");
    let path = dir.join("token.json");
    // Even when an older, world-readable file was there before.
    std::fs::write(&path, "{}").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    FileStore::new(&path).save(&token(1)).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode is {mode:o}");
}

#[test]
fn a_crash_between_write_and_rename_loses_no_token() {
    let dir = temp_dir("crash");
    let path = dir.join("token.json");
    let store = FileStore::new(&path);
    store.save(&token(1)).unwrap();
    // A writer that died mid-save left its half-written temporary file behind.
    std::fs::write(
        dir.join(".token.json.999.0.crash.tmp"),
        &b"{\"refresh_token\":\"1//ha"[..],
    )
    .unwrap();
    assert_eq!(
        store.load().unwrap(),
        Some(token(1)),
        "the old token is intact"
    );
    // The next save still works and replaces the token whole.
    store.save(&token(2)).unwrap();
    assert_eq!(store.load().unwrap(), Some(token(2)));
}

#[test]
fn concurrent_writers_never_corrupt_the_file() {
    let dir = temp_dir("concurrent");
    let path = dir.join("token.json");
    FileStore::new(&path).save(&token(0)).unwrap();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = FileStore::new(&path);
            std::thread::spawn(move || {
                for i in 0..50 {
                    store.save(&token(w * 1000 + i * 37)).unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let store = FileStore::new(&path);
        std::thread::spawn(move || {
            for _ in 0..500 {
                let loaded = store.load().unwrap().expect("the file never disappears");
                assert!(
                    loaded.refresh_token.is_some(),
                    "every read is a whole token"
                );
            }
        })
    };
    for writer in writers {
        writer.join().unwrap();
    }
    reader.join().unwrap();
    let last = FileStore::new(&path).load().unwrap().unwrap();
    let n: usize = last.access_token.unwrap()["ya29.access-".len()..]
        .parse()
        .unwrap();
    assert_eq!(
        last.refresh_token,
        token(n).refresh_token,
        "a whole token from one writer"
    );
    let leftovers = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary files left behind");
}
