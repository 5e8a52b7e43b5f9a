//! A fake OpenAI-compatible server on loopback ([`FakeServer`]): it serves canned responses in
//! order, one per connection, and records what it received, so that a proposer's requests can
//! be checked without a model. The responses speak chat completions ([`Canned::answer`]) or
//! enough of the Responses API for Codex CLI: one streamed output item per turn, a message
//! ([`Canned::response_message`]) or a function call ([`Canned::response_call`]).
//!
//! It answers whatever it is sent with the next canned response; it checks nothing itself.
//! Its opposite, [`closed_port`], is a model provider that refuses every connection.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

/// A response the fake server gives.
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Canned {
    /// A 200 chat completion whose message is `content`.
    pub fn answer(content: &str) -> Canned {
        let body = serde_json::json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop"
            }],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050}
        });
        Canned {
            status: 200,
            content_type: "application/json",
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    /// A 200 Responses API turn, streamed as server-sent events, whose one output item is an
    /// assistant message saying `text`: the turn ends there.
    pub fn response_message(text: &str) -> Canned {
        Canned::response_item(serde_json::json!({
            "type": "message",
            "role": "assistant",
            "id": "msg_1",
            "content": [{"type": "output_text", "text": text}]
        }))
    }

    /// A 200 Responses API turn, streamed as server-sent events, whose one output item is a
    /// call of the client's tool `name` with `arguments`: the client runs it and asks again
    /// with its output.
    pub fn response_call(name: &str, arguments: serde_json::Value, call_id: &str) -> Canned {
        Canned::response_item(serde_json::json!({
            "type": "function_call",
            "name": name,
            "arguments": arguments.to_string(),
            "call_id": call_id
        }))
    }

    /// The events of a turn with one output item: created, the item done, completed.
    fn response_item(item: serde_json::Value) -> Canned {
        let usage = serde_json::json!({
            "input_tokens": 1000,
            "output_tokens": 50,
            "total_tokens": 1050
        });
        let events = [
            serde_json::json!({"type": "response.created", "response": {"id": "resp_1"}}),
            serde_json::json!({"type": "response.output_item.done", "item": item}),
            serde_json::json!({
                "type": "response.completed",
                "response": {"id": "resp_1", "usage": usage}
            }),
        ];
        let body = events
            .iter()
            .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or("")))
            .collect();
        Canned {
            status: 200,
            content_type: "text/event-stream",
            headers: Vec::new(),
            body,
        }
    }

    /// An OpenAI-style error.
    pub fn error(status: u16, message: &str) -> Canned {
        Canned {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: serde_json::json!({"error": {"message": message}}).to_string(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Canned {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// One request the fake server received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Request line and headers.
    pub head: String,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("the request body is JSON")
    }
}

/// Serves the canned responses in order (the last one again once they run out), one per
/// connection, and records the requests. Stops when dropped.
pub struct FakeServer {
    pub base_url: String,
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(responses: Vec<Canned>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let received = Arc::clone(&received);
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                for (n, stream) in listener.incoming().enumerate() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let Some(request) = read_request(&mut stream) else {
                        continue;
                    };
                    received
                        .lock()
                        .expect("the recorder is not poisoned")
                        .push(request);
                    let canned = &responses[n.min(responses.len() - 1)];
                    write_response(&mut stream, canned);
                }
            })
        };
        FakeServer {
            base_url: format!("http://{addr}/v1"),
            addr,
            received,
            stop,
            thread: Some(thread),
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .expect("the recorder is not poisoned")
            .clone()
    }
}

/// A loopback port that nothing listens at (bound, then released): a client pointed there is
/// refused at once, so a model behind it is unreachable without depending on the machine's
/// network.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.local_addr().expect("a bound address").port()
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&data[head_end..]).into_owned();
    Some(Received { head, body })
}

fn write_response(stream: &mut TcpStream, canned: &Canned) {
    let mut response = format!(
        "HTTP/1.1 {} Canned\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        canned.status,
        canned.content_type,
        canned.body.len()
    );
    for (name, value) in &canned.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&canned.body);
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}
