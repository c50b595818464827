//! Compiled only in tests: the parent module declares it `#[cfg(test)] mod tests;`.
use super::*;
use serde_json::{json, Value};

fn batch(value: Value) -> Batch {
    serde_json::from_value(value).unwrap()
}

#[test]
fn documented_completed_batch() {
    let b = batch(json!({
        "id": "batch_rdyqgrcgjg", "object": "batch", "endpoint": "/v1/chat/completions", "errors": null,
        "input_file_id": "file-jkvytbjtow", "completion_window": "24h", "status": "completed",
        "output_file_id": "file-xxxx", "error_file_id": null,
        "created_at": 1741685413, "in_progress_at": 1741685500, "expires_at": 1741771813,
        "finalizing_at": 1741690000, "completed_at": 1741690100, "failed_at": null, "expired_at": null,
        "cancelling_at": null, "cancelled_at": null,
        "request_counts": {"total": 2, "completed": 2, "failed": 0},
        "metadata": {"description": "nightly eval job"}
    }));
    assert_eq!(b.id, "batch_rdyqgrcgjg");
    assert!(b.is_terminal());
    assert!(b.errors.is_empty());
    assert_eq!(
        (
            b.created_at,
            b.in_progress_at,
            b.expires_at,
            b.finalizing_at,
            b.completed_at
        ),
        (
            Some(1741685413),
            Some(1741685500),
            Some(1741771813),
            Some(1741690000),
            Some(1741690100)
        )
    );
    assert_eq!(
        (b.failed_at, b.expired_at, b.cancelling_at, b.cancelled_at),
        (None, None, None, None)
    );
    assert_eq!(b.request_counts.pending(), Some(0));
    assert_eq!(
        b.metadata.as_ref().unwrap().to_value()["description"],
        "nightly eval job"
    );
    assert_eq!(b.output_file(), Some(FileRef::Id("file-xxxx".into())));
    // It serializes back to the same JSON, minus the nulls.
    let back = serde_json::to_value(&b).unwrap();
    assert_eq!(
        back["request_counts"],
        json!({"total": 2, "completed": 2, "failed": 0})
    );
    assert!(back.get("failed_at").is_none());
    assert_eq!(serde_json::from_value::<Batch>(back).unwrap(), b);
}

#[test]
fn statuses_and_terminality() {
    for (text, terminal) in [
        ("in_queue", false),
        ("validating", false),
        ("in_progress", false),
        ("finalizing", false),
        ("completed", true),
        ("failed", true),
        ("expired", true),
        ("cancelling", false),
        ("cancelled", true),
        ("paused", false),
    ] {
        let b = batch(json!({"id": "b", "status": text}));
        assert_eq!(b.is_terminal(), terminal, "{text}");
        assert_eq!(b.status.as_ref().map(BatchStatus::as_str), Some(text));
    }
    assert_eq!(
        batch(json!({"status": "paused"})).status,
        Some(BatchStatus::Other("paused".into()))
    );
    for none in [json!({}), json!({"status": null}), json!({"status": ""})] {
        assert_eq!(batch(none).status, None);
    }
}

#[test]
fn request_counts_of_every_shape() {
    let counts = |v: Value| batch(json!({"request_counts": v})).request_counts;
    for empty in [
        json!(null),
        json!({}),
        json!([]),
        json!("n/a"),
        json!(3),
        json!([1, 2]),
    ] {
        assert!(counts(empty.clone()).is_empty(), "{empty}");
        assert_eq!(counts(empty).pending(), None);
    }
    assert!(batch(json!({})).request_counts.is_empty());
    let full = counts(json!({"total": 5, "completed": "2", "failed": 1, "expired": 1}));
    assert_eq!(
        (full.total, full.completed, full.failed),
        (Some(5), Some(2), Some(1))
    );
    assert_eq!(full.pending(), Some(2));
    assert_eq!(full.extra.get("expired").unwrap().get(), "1");
    let in_array = counts(json!([{"total": 3, "completed": null}]));
    assert_eq!((in_array.total, in_array.completed), (Some(3), None));
    assert_eq!(in_array.pending(), Some(3));
    let odd = counts(json!({"total": -1, "completed": 1.5, "failed": [1]}));
    assert_eq!((odd.total, odd.completed, odd.failed), (None, None, None));
}

#[test]
fn errors_of_every_shape() {
    let errors = |v: Value| batch(json!({"errors": v})).errors;
    for empty in [
        json!(null),
        json!([]),
        json!({"object": "list", "data": null}),
        json!(5),
    ] {
        assert!(errors(empty.clone()).is_empty(), "{empty}");
    }
    let strings = errors(json!(["line 3: invalid JSON", 7, null]));
    assert_eq!(strings.len(), 1);
    assert_eq!(strings[0].message.as_deref(), Some("line 3: invalid JSON"));
    let openai = errors(json!({"object": "list", "data": [
        {"code": "invalid_request", "message": "bad", "line": 3, "param": "body.model"},
        {"code": 400, "message": null, "line": "4"}]}));
    assert_eq!(openai.len(), 2);
    assert_eq!(
        (
            openai[0].code.as_deref(),
            openai[0].line,
            openai[0].param.as_deref()
        ),
        (Some("invalid_request"), Some(3), Some("body.model"))
    );
    assert_eq!(
        (
            openai[1].code.as_deref(),
            openai[1].line,
            openai[1].message.as_deref()
        ),
        (Some("400"), Some(4), None)
    );
    let single = errors(json!({"code": "x", "message": "y"}));
    assert_eq!(single[0].message.as_deref(), Some("y"));
    assert_eq!(
        errors(json!("whole batch failed"))[0].message.as_deref(),
        Some("whole batch failed")
    );
}

#[test]
fn file_references_and_odd_fields() {
    let b = batch(json!({
        "id": "b", "output_file_id": "https://s3.siliconflow.cn/batch/out.jsonl?Expires=1",
        "error_file_id": "", "createdAt": "1741685413", "metadata": "none", "file_name": "r.jsonl",
        "completed_at": 1.0e9, "unknown": {"a": 1}
    }));
    assert!(b.output_file().unwrap().is_url());
    assert_eq!(
        b.output_file_id.as_deref(),
        Some("https://s3.siliconflow.cn/batch/out.jsonl?Expires=1")
    );
    assert_eq!((b.error_file_id.as_deref(), b.error_file()), (None, None));
    assert_eq!(b.created_at, Some(1741685413));
    assert_eq!(b.completed_at, Some(1_000_000_000));
    assert_eq!(b.metadata, None);
    assert_eq!(b.file_name.as_deref(), Some("r.jsonl"));
    assert_eq!(b.extra.to_value()["unknown"]["a"], 1);
}

#[test]
fn batch_lists() {
    let list: BatchList = serde_json::from_value(json!({
        "object": "list", "data": [{"id": "batch_1", "status": "in_queue"}, {"id": "batch_2"}],
        "first_id": "batch_1", "last_id": "batch_2", "has_more": false
    }))
    .unwrap();
    assert_eq!(list.data.len(), 2);
    assert_eq!(
        (
            list.first_id.as_deref(),
            list.last_id.as_deref(),
            list.has_more
        ),
        (Some("batch_1"), Some("batch_2"), false)
    );
    let bare: BatchList = serde_json::from_value(json!([{"id": "batch_1"}])).unwrap();
    assert_eq!(bare.data[0].id, "batch_1");
    for empty in [
        json!({}),
        json!({"data": null, "has_more": null, "first_id": ""}),
    ] {
        let list: BatchList = serde_json::from_value(empty.clone()).unwrap();
        assert!(
            list.data.is_empty() && !list.has_more && list.first_id.is_none(),
            "{empty}"
        );
    }
    let more: BatchList = serde_json::from_value(json!({"data": [], "has_more": "true"})).unwrap();
    assert!(more.has_more);
    let value = serde_json::to_value(&list).unwrap();
    assert_eq!(value["last_id"], "batch_2");
    assert_eq!(serde_json::from_value::<BatchList>(value).unwrap(), list);
}
