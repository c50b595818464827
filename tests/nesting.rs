//! Deeply nested JSON in every place a server can put it (ignored fields, raw usage/logprobs, JSON
//! answers, error bodies): an error or a success, never a crash.

mod common;

use common::*;
use siliconflow::ChatStream;

fn deep(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

#[test]
fn deep_nesting_in_a_stream_is_an_error_not_a_crash() {
    for n in [200, 10_000, 1_000_000] {
        for place in ["x", "usage", "logprobs_in_choice", "delta_x", "error"] {
            let chunk = match place {
                "x" => format!("{{\"x\":{},\"choices\":[]}}", deep(n)),
                "usage" => format!("{{\"usage\":{},\"choices\":[]}}", deep(n)),
                "logprobs_in_choice" => {
                    format!("{{\"choices\":[{{\"index\":0,\"logprobs\":{}}}]}}", deep(n))
                }
                "delta_x" => format!(
                    "{{\"choices\":[{{\"index\":0,\"delta\":{{\"x\":{}}}}}]}}",
                    deep(n)
                ),
                _ => format!("{{\"error\":{}}}", deep(n)),
            };
            let body = format!("data: {chunk}\n\ndata: [DONE]\n\n");
            let mut stream = ChatStream::from_reader(body.as_bytes());
            let results: Vec<_> = stream.by_ref().collect();
            println!(
                "{place} depth {n}: {} results, last {:?}",
                results.len(),
                results.last().map(|r| r.as_ref().err().map(|e| e
                    .to_string()
                    .chars()
                    .take(60)
                    .collect::<String>()))
            );
        }
    }
}

#[test]
fn deep_nesting_in_json_answers_and_error_bodies() {
    let n = 1_000_000;
    let bodies = [
        (200u16, format!("{{\"x\":{},\"choices\":[]}}", deep(n))),
        (400u16, format!("{{\"error\":{{\"message\":{}}}}}", deep(n))),
        (
            200u16,
            format!(
                "{{\"code\":20000,\"status\":true,\"data\":{{\"x\":{}}}}}",
                deep(n)
            ),
        ),
    ];
    for (status, body) in bodies {
        let (base, server) = raw_server(3, move |_, _, stream| {
            write_response(
                stream,
                status,
                &[("Content-Type", "application/json")],
                &body,
            );
        });
        let c = client(&base);
        println!(
            "chat: {:?}",
            c.chat(&request())
                .err()
                .map(|e| e.to_string().chars().take(80).collect::<String>())
        );
        println!(
            "user_info: {:?}",
            c.user_info()
                .err()
                .map(|e| e.to_string().chars().take(80).collect::<String>())
        );
        println!(
            "stream: {:?}",
            c.chat_stream(&request()).err().map(|e| e
                .to_string()
                .chars()
                .take(80)
                .collect::<String>())
        );
        let _ = server.join();
    }
}
