//! The `classroom-emulator` binary's contract (see `classroom_emulator::standalone`), as a test
//! in another language would meet it: `--port 0`, then one first line on stdout naming the root
//! URL, token URL and client, then a server that answers there.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_classroom-emulator");

/// Kills the server, by its own handle, however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends one HTTP/1.1 request and returns the whole reply.
fn http(addr: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("the emulator accepts connections");
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

#[test]
fn port_zero_prints_the_line_then_serves_there() {
    let mut child = Command::new(BINARY)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();

    let fields: Vec<(&str, &str)> = line
        .trim_end_matches('\n')
        .split(' ')
        .map(|f| f.split_once('=').expect("key=value"))
        .collect();
    let keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        ["root", "token_url", "client_id", "client_secret"],
        "{line:?}"
    );
    let root = fields[0].1;
    let addr = root
        .strip_prefix("http://")
        .and_then(|r| r.strip_suffix('/'))
        .unwrap_or_else(|| panic!("root is http://127.0.0.1:PORT/: {root:?}"));
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );
    assert_eq!(fields[1].1, format!("{root}token"));

    // The token endpoint takes the printed client with the client credentials grant.
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}\
         &scope=https://www.googleapis.com/auth/classroom.courses.readonly",
        fields[2].1, fields[3].1
    );
    let reply = http(
        addr,
        &format!(
            "POST /token HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"access_token\""), "{reply}");
}

#[test]
fn help_exits_zero_and_a_bad_argument_exits_two() {
    let help = Command::new(BINARY).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(help.stdout.is_empty(), "stdout carries only the line");
    let usage = String::from_utf8_lossy(&help.stderr);
    assert!(
        usage.contains("--port") && usage.contains("--empty"),
        "{usage}"
    );

    let bad = Command::new(BINARY).arg("--bogus").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown argument --bogus"));
}
