//! Pins what a model reads for one full-size page of messages (every documented field of a
//! Whop message, as `bench/fakewhop.py` serves them): the whole `tools/call` answer line,
//! byte for byte — the text rows, `structuredContent` with its key order, and the JSON-RPC
//! frame. The performance work on the call path must not change a byte of it.

use std::time::Duration;

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    process::Command,
};

use super::common::{self, BIN};

const FIXTURE: &str = "tests/fixtures/full_page.json";
const SNAPSHOT: &str = "tests/snapshots/list_messages_full_page.jsonl";

/// A one-endpoint Whop on loopback that answers every request with `body` (keep-alive).
async fn fake_whop(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut read = BufReader::new(read);
                loop {
                    // The request head; GETs carry no body.
                    let mut head = Vec::new();
                    loop {
                        let mut line = Vec::new();
                        if read.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == b"\r\n" {
                            break;
                        }
                        head.extend_from_slice(&line);
                    }
                    assert!(head.starts_with(b"GET /api/v1/messages?channel_id=feed_7HgT2kLp9QmXcV&first=20&direction=desc "),
                        "{}", String::from_utf8_lossy(&head));
                    let mut answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    answer.extend_from_slice(&body);
                    if write.write_all(&answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}/api/v1")
}

#[tokio::test]
async fn a_full_size_page_reads_exactly_as_pinned() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read(root.join(FIXTURE)).unwrap();
    let base_url = fake_whop(body).await;
    let mut child = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WHOP_BASE_URL", &base_url)
        .env("WHOP_API_KEY", common::random_key())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(concat!(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"pin","version":"1"}}}"#, "\n",
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, "\n",
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_messages","arguments":{"channel_id":"feed_7HgT2kLp9QmXcV","limit":20}}}"#, "\n",
        ).as_bytes())
        .await
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let answer = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).await.unwrap() > 0,
                "the server ended"
            );
            if line.starts_with(r#"{"jsonrpc":"2.0","id":2,"#) {
                return line;
            }
        }
    })
    .await
    .expect("an answer to tools/call");
    drop(stdin);
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stdout.read_to_end(&mut rest)).await;

    let path = root.join(SNAPSHOT);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &answer).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        answer == expected,
        "the list_messages answer for a full-size page changed. Review the difference, then update the snapshot with:\n  UPDATE_SNAPSHOTS=1 cargo test --test integration full_page\n\ncurrent:\n{answer}"
    );
}
