//! A forward (HTTP CONNECT) proxy on 127.0.0.1, on one thread, for tests that send the client through a
//! proxy. One tunnel at a time: it accepts a connection, reads `CONNECT host:port`, connects upstream,
//! answers 200, and copies bytes both ways until either side closes.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A running proxy; stops (and joins its thread) on drop.
pub struct Proxy {
    pub port: u16,
    /// How many CONNECT tunnels it opened.
    pub tunnels: Arc<AtomicUsize>,
    /// The `Proxy-Authorization` header of the last CONNECT, if any.
    pub last_auth: Arc<std::sync::Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the proxy.
pub fn start() -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let tunnels = Arc::new(AtomicUsize::new(0));
    let last_auth = Arc::new(std::sync::Mutex::new(None));
    let thread = {
        let (stop, tunnels, last_auth) = (stop.clone(), tunnels.clone(), last_auth.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = tunnel(client, &stop, &tunnels, &last_auth);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        })
    };
    Proxy {
        port,
        tunnels,
        last_auth,
        stop,
        thread: Some(thread),
    }
}

fn tunnel(
    client: TcpStream,
    stop: &AtomicBool,
    tunnels: &AtomicUsize,
    last_auth: &std::sync::Mutex<Option<String>>,
) -> io::Result<()> {
    client.set_nonblocking(false)?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    *last_auth.lock().unwrap() = None;
    let target = line
        .strip_prefix("CONNECT ")
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| io::Error::other("not a CONNECT"))?
        .to_string();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("proxy-authorization") {
                *last_auth.lock().unwrap() = Some(value.trim().to_string());
            }
        }
    }
    let upstream = TcpStream::connect(&target)?;
    tunnels.fetch_add(1, Ordering::SeqCst);
    let mut client = client;
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    // Bytes the client sent after the CONNECT head, already in the reader's buffer.
    let mut up = upstream;
    up.write_all(reader.buffer())?;
    client.set_nonblocking(true)?;
    up.set_nonblocking(true)?;
    let mut buf = [0u8; 16 * 1024];
    let mut open = true;
    let (mut client2, mut up2) = (client.try_clone()?, up.try_clone()?);
    while open && !stop.load(Ordering::SeqCst) {
        let mut moved = false;
        for (from, to) in [(&mut client, &mut up), (&mut up2, &mut client2)] {
            match from.read(&mut buf) {
                Ok(0) => open = false,
                Ok(n) => {
                    to.set_nonblocking(false)?;
                    to.write_all(&buf[..n])?;
                    to.set_nonblocking(true)?;
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => open = false,
            }
        }
        if !moved {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(())
}
