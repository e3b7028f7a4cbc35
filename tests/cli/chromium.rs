//! A small headless Chromium driver for the page tests, over the DevTools protocol.
//!
//! [`Browser::launch`] starts Debian's `chromium` headless with a fresh profile and everything that
//! would reach the network on its own turned off, reads the DevTools port it picked, and attaches
//! to its page over a websocket (plain `tungstenite` on loopback: blocking calls suit these
//! synchronous tests). Tests then navigate, evaluate JavaScript, wait for a condition (bounded,
//! never a fixed sleep) and take screenshots. A machine without Chromium fails the test with a
//! message naming the package; it is never skipped. [`Listener`] is a loopback port that counts
//! every connection made to it: the trap that proves a page made no request.

#![allow(dead_code)]

use base64::Engine as _;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tungstenite::{Message, WebSocket};

/// How long a page may take to reach a state a test waits for.
const WAIT_LIMIT: Duration = Duration::from_secs(30);
/// The viewport, so screenshots have a known size.
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 600;

const MISSING: &str = "Chromium is needed for the page tests: install Debian's `chromium` package \
     (apt-get install chromium; scripts/test does it), or set SS_CHROMIUM to its path";

/// The browser binary: `$SS_CHROMIUM`, else `chromium` on the PATH.
fn binary() -> String {
    std::env::var("SS_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    next_id: u64,
    profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    pub fn launch() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(profile.path().join("chromium.log")).unwrap();
        let child = Command::new(binary())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-default-apps",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                &format!("--window-size={WIDTH},{HEIGHT}"),
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{MISSING} (starting `{}`: {e})", binary()));
        let mut browser = Browser {
            ws: connect_page(&child, profile.path()),
            child,
            next_id: 0,
            profile,
        };
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": false}),
        );
        browser
    }

    /// Sends one DevTools command and returns its result; events in between are ignored.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::text(request.to_string()))
            .unwrap_or_else(|e| panic!("DevTools {method}: {e}"));
        loop {
            let message = self
                .ws
                .read()
                .unwrap_or_else(|e| panic!("DevTools {method}: {e}"));
            let Message::Text(text) = message else {
                continue;
            };
            let reply: Value = serde_json::from_str(text.as_str()).unwrap();
            if reply["id"] == id {
                assert!(reply["error"].is_null(), "DevTools {method}: {reply}");
                return reply["result"].clone();
            }
        }
    }

    /// Navigates and waits for the *new* document to load. The old one is marked first: until the
    /// navigation replaces it, it still answers `readyState === 'complete'` (going to the same URL
    /// again, the next `eval` could otherwise read a page whose scripts have not run yet).
    pub fn goto(&mut self, url: &str) {
        self.eval("window.__ssLeaving = true");
        let result = self.call("Page.navigate", json!({"url": url}));
        assert!(result["errorText"].is_null(), "loading {url}: {result}");
        self.wait_until(
            "!window.__ssLeaving && document.readyState === 'complete'",
            url,
        );
    }

    /// Evaluates `expression` in the page and returns its value (JSON-serializable values only).
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(
            result["exceptionDetails"].is_null(),
            "{expression}: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is truthy in the page; fails naming `what` after [`WAIT_LIMIT`].
    pub fn wait_until(&mut self, expression: &str, what: &str) {
        let check = format!("!!({expression})");
        crate::harness::wait_until(
            &format!("the page to reach `{expression}` ({what})"),
            WAIT_LIMIT,
            || self.eval(&check) == Value::Bool(true),
        )
    }

    /// Waits until the browser itself holds `key` = `value` in the page's localStorage. A page's
    /// write reaches the browser's storage after the page saw it; a next page, in a new renderer,
    /// reads the browser's copy, so a test of "remembered by the next page" waits for it first.
    pub fn wait_for_local_storage(&mut self, key: &str, value: &str) {
        let origin = self.eval("location.origin");
        self.call("DOMStorage.enable", json!({}));
        let storage = json!({"storageId": {"securityOrigin": origin, "isLocalStorage": true}});
        crate::harness::wait_until(
            &format!("the browser to store {key} = {value}"),
            WAIT_LIMIT,
            || {
                let items = self.call("DOMStorage.getDOMStorageItems", storage.clone());
                items["entries"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|entry| entry[0] == key && entry[1] == value)
            },
        )
    }

    /// A PNG of the viewport.
    pub fn screenshot(&mut self) -> Vec<u8> {
        let result = self.call("Page.captureScreenshot", json!({"format": "png"}));
        base64::engine::general_purpose::STANDARD
            .decode(result["data"].as_str().expect("screenshot data"))
            .expect("base64 screenshot")
    }

    /// CPU seconds (user + system) and resident memory (MiB) of the browser and all its processes.
    pub fn usage(&self) -> (f64, u64) {
        process_tree_usage(self.child.id())
    }

    /// What Chromium wrote to stderr so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.profile.path().join("chromium.log")).unwrap_or_default()
    }
}

/// CPU seconds and resident MiB of `root` and its descendants, from /proc (clock ticks at 100 Hz,
/// Linux's user-visible rate).
fn process_tree_usage(root: u32) -> (f64, u64) {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command (which may hold spaces): state ppid ... utime(14) stime(15).
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let number = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let rss_pages = std::fs::read_to_string(format!("/proc/{pid}/statm"))
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .unwrap_or(0);
        parents.push((pid, number(1) as u32, number(11) + number(12), rss_pages));
    }
    let mut tree = vec![root];
    let mut grew = true;
    while grew {
        grew = false;
        for (pid, ppid, _, _) in &parents {
            if tree.contains(ppid) && !tree.contains(pid) {
                tree.push(*pid);
                grew = true;
            }
        }
    }
    let (ticks, pages) = parents
        .iter()
        .filter(|(pid, ..)| tree.contains(pid))
        .fold((0, 0), |(t, p), (_, _, ticks, pages)| {
            (t + ticks, p + pages)
        });
    (ticks as f64 / 100.0, pages * 4096 / (1 << 20))
}

/// Waits for Chromium's DevTools port (it writes `DevToolsActivePort` into the profile), finds
/// its page and opens the page's websocket.
fn connect_page(child: &Child, profile: &Path) -> WebSocket<TcpStream> {
    let port: u16 = crate::harness::wait_for_explained(
        WAIT_LIMIT,
        || {
            std::fs::read_to_string(profile.join("DevToolsActivePort"))
                .ok()
                .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
        },
        || {
            let log = std::fs::read_to_string(profile.join("chromium.log")).unwrap_or_default();
            format!(
                "{MISSING}: it did not open its DevTools port (pid {}):\n{log}",
                child.id()
            )
        },
    );
    let targets = crate::harness::wait_for("Chromium to open a page", WAIT_LIMIT, || {
        let list: Value = serde_json::from_str(&http_get(port, "/json/list")).unwrap();
        list.as_array()
            .is_some_and(|l| l.iter().any(|t| t["type"] == "page"))
            .then_some(list)
    });
    let url = targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "page")
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .expect("a page target")
        .to_owned();
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT_LIMIT)).unwrap();
    let (ws, _) = tungstenite::client(url.as_str(), stream).expect("DevTools websocket");
    ws
}

/// A plain HTTP/1.1 GET on loopback; the body.
pub fn http_get(port: u16, path: &str) -> String {
    let (status, body) = http_get_status(port, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// A plain HTTP/1.1 GET on loopback: the status code and the body.
pub fn http_get_status(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT_LIMIT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    // Read the head, then exactly Content-Length bytes (DevTools keeps the connection open).
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
        reply.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&reply).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            stream.read_exact(&mut body).unwrap();
        }
        None => {
            stream.read_to_end(&mut body).unwrap();
        }
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    (status, body)
}

/// Width and height of a PNG, checking its signature and header chunk.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(
        bytes.len() > 33 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "not a PNG"
    );
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The RGBA pixels of a PNG, with its width and height.
fn rgba(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a PNG of sane size")];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    buf.truncate(info.buffer_size());
    let channels = info.color_type.samples();
    let pixels = buf
        .chunks_exact(channels)
        .flat_map(|p| match channels {
            4 => [p[0], p[1], p[2], p[3]],
            3 => [p[0], p[1], p[2], 255],
            2 => [p[0], p[0], p[0], p[1]],
            _ => [p[0], p[0], p[0], 255],
        })
        .collect();
    (info.width, info.height, pixels)
}

/// A pixel counts as changed when a channel moved by more than this: antialiasing and colour
/// rounding move a few steps; the two dark themes differ by less than 40 in places, so a looser
/// tolerance would let one pass for the other.
const CHANNEL_TOLERANCE: u8 = 8;

/// The share of pixels that may change: what differs per run (a port number in the hostile chat
/// lines, the control page's ages) touches 0.08–0.13% of the viewport; another theme touches more
/// than 20%, a moved line or a missing element well over 1%.
const CHANGED_SHARE: f64 = 0.01;

/// The share of pixels of `a` and `b` (PNGs) that differ beyond [`CHANNEL_TOLERANCE`]; 1.0 when their
/// sizes differ.
pub fn changed_share(a: &[u8], b: &[u8]) -> f64 {
    let (wa, ha, pa) = rgba(a);
    let (wb, hb, pb) = rgba(b);
    if (wa, ha) != (wb, hb) {
        return 1.0;
    }
    let changed = pa
        .chunks_exact(4)
        .zip(pb.chunks_exact(4))
        .filter(|(x, y)| {
            x.iter()
                .zip(*y)
                .any(|(c, d)| c.abs_diff(*d) > CHANNEL_TOLERANCE)
        })
        .count();
    changed as f64 / (wa as f64 * ha as f64)
}

/// Checks a screenshot against the committed one, `tests/snapshots/pages/<name>.png`: the same
/// size, and at most [`CHANGED_SHARE`] of the pixels changed. `SS_UPDATE_SCREENSHOTS=1` rewrites
/// the committed file; a mismatch leaves the new one beside it as `<name>.new.png` to look at.
pub fn screenshot_matches(name: &str, png: &[u8], size: (u32, u32)) {
    assert_eq!(png_size(png), size, "{name}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots/pages")
        .join(format!("{name}.png"));
    if std::env::var_os("SS_UPDATE_SCREENSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, png).unwrap();
    }
    let committed = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run the test with SS_UPDATE_SCREENSHOTS=1 to write it",
            path.display()
        )
    });
    let share = changed_share(&committed, png);
    if share > CHANGED_SHARE {
        let new = path.with_extension("new.png");
        std::fs::write(&new, png).unwrap();
        panic!(
            "{name}: {:.2}% of the pixels differ from {} (at most {:.2}% may); the new screenshot is {}; \
             if the change is meant, rerun with SS_UPDATE_SCREENSHOTS=1",
            share * 100.0,
            path.display(),
            CHANGED_SHARE * 100.0,
            new.display()
        );
    }
}

/// A loopback port that accepts and counts every connection (and records the request line).
pub struct Listener {
    pub port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Listener {
    pub fn start() -> Listener {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, count, done) = (requests.clone(), connections.clone(), stop.clone());
        std::thread::spawn(move || {
            // Blocking accepts; dropping the listener sets `stop` and connects once to wake this.
            for stream in socket.incoming() {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                match stream {
                    Ok(mut stream) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        stream
                            .set_read_timeout(Some(Duration::from_secs(2)))
                            .unwrap();
                        let mut head = [0u8; 512];
                        let n = stream.read(&mut head).unwrap_or(0);
                        let line = String::from_utf8_lossy(&head[..n])
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                        seen.lock().unwrap().push(line);
                        let _ = stream.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        );
                    }
                    Err(_) => continue,
                }
            }
        });
        Listener {
            port,
            requests,
            connections,
            stop,
        }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
