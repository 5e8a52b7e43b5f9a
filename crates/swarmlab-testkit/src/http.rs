//! A blocking HTTP/1.1 client for tests and benches: GET and POST to a hub or a dashboard on
//! loopback, with a bearer token or the dashboard's session cookie, a JSON, form or raw body,
//! and the answer's status, headers and body (chunked bodies decoded). Each request has a
//! connection of its own, or, for a load generator, reuses one kept alive; while a hub
//! rate-limits, a client may try again. An event stream is read line by line ([`Events`]).
//!
//! It speaks the plain HTTP swarmlab serves and nothing more: no TLS, redirects or proxies.
//! An answer that never comes is status 0, never a hang: reads time out.

use std::fmt::Display;
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

/// The name of the dashboard's session cookie.
const SESSION_COOKIE: &str = "swarmlab_session";

/// How long one read may wait, unless [`Client::timeout`] says otherwise.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait before asking again after a 429.
const RATE_LIMIT_PAUSE: Duration = Duration::from_millis(200);

/// A server at one address, and what every request to it carries. Each builder method
/// returns a changed copy, so one client can serve several identities; copies share the
/// connection kept alive, if any.
#[derive(Debug, Clone)]
pub struct Client {
    address: String,
    headers: Vec<(String, String)>,
    retry_on_429: bool,
    timeout: Duration,
    /// The connection kept alive, when [`Client::keep_alive`] asked for one.
    kept: Option<Arc<Mutex<Option<BufReader<TcpStream>>>>>,
}

/// What the server answered.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// The status code; 0 when the server could not be reached or did not answer.
    pub status: u16,
    /// The status line and the headers, as sent.
    pub head: String,
    /// The body as text (lossy UTF-8).
    pub body: String,
    /// The body as sent (after chunked decoding).
    pub bytes: Vec<u8>,
}

impl Response {
    /// The value of the header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.head, name)
    }

    /// The body as JSON; panics, showing the body, when it is not.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.body))
    }
}

impl Client {
    /// A client of the server at `address` (`host:port`).
    pub fn new(address: impl Display) -> Client {
        Client {
            address: address.to_string(),
            headers: Vec::new(),
            retry_on_429: false,
            timeout: READ_TIMEOUT,
            kept: None,
        }
    }

    /// A copy that sends `Authorization: Bearer TOKEN`.
    pub fn bearer(&self, token: &str) -> Client {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    /// A copy that sends the dashboard's session cookie with the value `session`.
    pub fn cookie(&self, session: &str) -> Client {
        self.header("Cookie", &format!("{SESSION_COOKIE}={session}"))
    }

    /// A copy that also sends the header `name: value`.
    pub fn header(&self, name: &str, value: &str) -> Client {
        let mut copy = self.clone();
        copy.headers.push((name.to_string(), value.to_string()));
        copy
    }

    /// A copy that asks again, after a pause, for as long as the server answers 429: tests
    /// that poll a hub as one identity would otherwise see its rate limit.
    pub fn retry_on_429(&self) -> Client {
        let mut copy = self.clone();
        copy.retry_on_429 = true;
        copy
    }

    /// A copy whose reads wait up to `timeout` (30 s unless set).
    pub fn timeout(&self, timeout: Duration) -> Client {
        let mut copy = self.clone();
        copy.timeout = timeout;
        copy
    }

    /// A copy that keeps its connection open between requests, as a browser or a load
    /// generator does (and opens a fresh one when the server closed it).
    pub fn keep_alive(&self) -> Client {
        let mut copy = self.clone();
        copy.kept = Some(Arc::new(Mutex::new(None)));
        copy
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Response {
        self.send("GET", path, b"")
    }

    /// POST `body` (JSON, or nothing) to `path`.
    pub fn post(&self, path: &str, body: impl AsRef<[u8]>) -> Response {
        self.send("POST", path, body.as_ref())
    }

    /// POST `value` as JSON to `path`.
    pub fn post_json(&self, path: &str, value: &impl Serialize) -> Response {
        let body = serde_json::to_vec(value).expect("a test's value serialises to JSON");
        self.post(path, body)
    }

    /// POST the URL-encoded form `form` (see [`form`]) to `path`, as a browser does.
    pub fn post_form(&self, path: &str, form: &str) -> Response {
        self.answer(
            "POST",
            path,
            "application/x-www-form-urlencoded",
            form.as_bytes(),
        )
    }

    /// Any method with a JSON (or empty) body.
    pub fn send(&self, method: &str, path: &str, body: &[u8]) -> Response {
        self.answer(method, path, "application/json", body)
    }

    /// GET `path` and keep the answer open: its lines, the status line first, as they come.
    /// Panics when the server cannot be reached.
    pub fn events(&self, path: &str) -> Events {
        let mut stream = self.connect().expect("the server is reachable");
        let mut head = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", self.address);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .expect("the request is sent");
        Events {
            reader: BufReader::new(stream),
        }
    }

    /// [`Client::send`] once, saying why it failed instead of answering status 0 (for a
    /// load generator that counts failures by kind).
    pub fn try_send(&self, method: &str, path: &str, body: &[u8]) -> io::Result<Response> {
        self.exchange(method, path, "application/json", body)
    }

    fn answer(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Response {
        loop {
            let response = self
                .exchange(method, path, content_type, body)
                .unwrap_or_default();
            if !(self.retry_on_429 && response.status == 429) {
                return response;
            }
            std::thread::sleep(RATE_LIMIT_PAUSE);
        }
    }

    fn exchange(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> io::Result<Response> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.address);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
        match &self.kept {
            None => {
                head.push_str("Connection: close\r\n\r\n");
                self.once(head.as_bytes(), body)
            }
            Some(kept) => {
                head.push_str("\r\n");
                let mut slot = kept.lock().unwrap_or_else(|e| e.into_inner());
                let reused = slot.is_some();
                match self.on_kept(&mut slot, head.as_bytes(), body) {
                    // The server may have closed an idle connection: one fresh try.
                    Err(_) if reused => self.on_kept(&mut slot, head.as_bytes(), body),
                    result => result,
                }
            }
        }
    }

    fn connect(&self) -> io::Result<TcpStream> {
        let stream = TcpStream::connect(&self.address)?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// One request on a connection of its own.
    fn once(&self, head: &[u8], body: &[u8]) -> io::Result<Response> {
        let mut stream = self.connect()?;
        stream.write_all(head)?;
        // The server may answer (413) before reading a large body; a failed write is fine then.
        let _ = stream.write_all(body);
        read_response(&mut BufReader::new(stream)).map(|(response, _)| response)
    }

    /// One request on the kept connection, opened first if there is none; closed again
    /// when it fails or the server says it closes it.
    fn on_kept(
        &self,
        slot: &mut Option<BufReader<TcpStream>>,
        head: &[u8],
        body: &[u8],
    ) -> io::Result<Response> {
        if slot.is_none() {
            *slot = Some(BufReader::new(self.connect()?));
        }
        let reader = slot.as_mut().expect("a connection was just opened");
        let mut message = head.to_vec();
        message.extend_from_slice(body);
        let result = reader
            .get_mut()
            .write_all(&message)
            .and_then(|()| read_response(reader));
        match result {
            Ok((response, false)) => Ok(response),
            Ok((response, true)) => {
                *slot = None;
                Ok(response)
            }
            Err(e) => {
                *slot = None;
                Err(e)
            }
        }
    }
}

/// A response that does not end, read line by line as it comes: a stream of server-sent
/// events.
#[derive(Debug)]
pub struct Events {
    reader: BufReader<TcpStream>,
}

impl Events {
    /// The next line, its line ending removed; `None` when the stream ended or nothing came
    /// within `limit`.
    pub fn next_line(&mut self, limit: Duration) -> Option<String> {
        self.reader.get_ref().set_read_timeout(Some(limit)).ok()?;
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
        }
    }

    /// Reads lines until one is `wanted` (`Some(true)`), the stream ends (`Some(false)`), or
    /// `limit` has passed (`None`).
    pub fn until(&mut self, limit: Duration, wanted: impl Fn(&str) -> bool) -> Option<bool> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            self.reader.get_ref().set_read_timeout(Some(left)).ok()?;
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return Some(false),
                Ok(_) if wanted(line.trim_end_matches(['\r', '\n'])) => return Some(true),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

/// Encodes `fields` as a form body: `k=v&k=v`, everything but letters, digits and `-_.`
/// percent-encoded.
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| {
            let value: String = value
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads one response: its head, then a body delimited by its length, by chunks, or by the
/// end of the connection. Also says whether the server closes the connection after it.
fn read_response(reader: &mut impl BufRead) -> io::Result<(Response, bool)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed before the headers ended",
            ));
        }
        if line.trim_end().is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let head = head.trim_end().to_string();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("a bad status line"))?;
    let chunked = header(&head, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok());
    let mut close =
        header(&head, "connection").is_some_and(|v| v.to_ascii_lowercase().contains("close"));
    let mut bytes = Vec::new();
    if chunked {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16).map_err(|_| invalid("a bad chunk size"))?;
            if size == 0 {
                // Trailers, if any, up to the blank line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            bytes.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = length {
        bytes.resize(n, 0);
        reader.read_exact(&mut bytes)?;
    } else if !matches!(status, 100..=199 | 204 | 304) {
        reader.read_to_end(&mut bytes)?;
        close = true;
    }
    let response = Response {
        status,
        head,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    };
    Ok((response, close))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str) -> (Response, bool) {
        read_response(&mut raw.as_bytes()).unwrap()
    }

    #[test]
    fn a_body_is_read_by_its_length_and_the_rest_left() {
        let mut raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1".as_bytes();
        let (r, close) = read_response(&mut raw).unwrap();
        assert_eq!((r.status, r.body.as_str(), close), (200, "hi", false));
        assert_eq!(raw, b"HTTP/1.1");
    }

    #[test]
    fn chunks_are_joined_and_headers_found_in_any_case() {
        let (r, _) = read(
            "HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\nX-A: b\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        );
        assert_eq!((r.status, r.body.as_str()), (201, "abcde"));
        assert_eq!(r.header("x-a").as_deref(), Some("b"));
        assert!(r.head.starts_with("HTTP/1.1 201"));
    }

    #[test]
    fn without_a_length_the_body_ends_with_the_connection() {
        let (r, close) = read("HTTP/1.1 404 Not Found\r\n\r\n{\"error\":\"not_found\"}");
        assert_eq!(r.json()["error"], "not_found");
        assert!(close);
    }

    #[test]
    fn a_truncated_answer_is_an_error_and_status_0_to_send() {
        assert!(
            read_response(&mut "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab".as_bytes())
                .is_err()
        );
        let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = nobody.local_addr().unwrap();
        drop(nobody);
        assert_eq!(Client::new(address).get("/").status, 0);
    }

    /// A server that answers `answers` in order on every connection it accepts, keeps the
    /// connection open, and counts the connections.
    fn serve(answers: &'static [&'static str]) -> (String, Arc<Mutex<usize>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(Mutex::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            let mut open = Vec::new();
            for stream in listener.incoming().map_while(Result::ok) {
                *count.lock().unwrap() += 1;
                let mut reader = BufReader::new(stream);
                for answer in answers {
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                        if line == "\r\n" {
                            break;
                        }
                        line.clear();
                    }
                    let _ = reader.get_mut().write_all(answer.as_bytes());
                }
                open.push(reader);
            }
        });
        (address, accepted)
    }

    #[test]
    fn a_kept_connection_serves_each_request_and_a_429_is_asked_again() {
        let (address, accepted) = serve(&[
            "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo",
        ]);
        let client = Client::new(&address).keep_alive().retry_on_429();
        assert_eq!(client.get("/").body, "one");
        assert_eq!(client.bearer("t").get("/").body, "two");
        assert_eq!(*accepted.lock().unwrap(), 1);
    }

    #[test]
    fn events_come_line_by_line_until_one_is_wanted_or_time_runs_out() {
        let (address, _) = serve(&["HTTP/1.1 200 OK\r\n\r\nevent: a\r\ndata: 1\n"]);
        let mut events = Client::new(&address).events("/events");
        let limit = Duration::from_millis(500);
        assert_eq!(events.next_line(limit).as_deref(), Some("HTTP/1.1 200 OK"));
        assert_eq!(events.until(limit, |l| l == "data: 1"), Some(true));
        assert_eq!(events.until(limit, |_| true), None);
    }

    #[test]
    fn forms_are_percent_encoded() {
        assert_eq!(
            form(&[("token", "a b/c"), ("next", "/")]),
            "token=a%20b%2Fc&next=%2F"
        );
    }
}
