//! The account behind the API key: `GET /user/info`, with its balances.
//!
//! SiliconFlow answers `200 OK` with an envelope, `{"code":20000,"message":"OK","status":true,"data":{…}}`,
//! and reports some failures inside it rather than with an HTTP status. [`Client::user_info`] unwraps the
//! envelope (with [`crate::envelope`], shared with the other wrapped endpoints) and returns its `data` as a
//! [`UserInfo`]; an envelope with `status: false`, a `code` other than `20000` or no `data` is an
//! [`Error::Api`] with status 200.
//!
//! Balances are decimal strings on the wire (`"88.88"`), and are kept exactly as sent, because money
//! should not pass through binary floating point unasked; [`UserInfo::balance_f64`] and friends parse them
//! when an approximation is what you want.

use serde::{Deserialize, Deserializer, Serialize};

use crate::client::with_response;
use crate::client::Call;
use crate::meta::ResponseMeta;
use crate::serde_util::null_as_default;
use crate::{Client, Error};

/// The account behind the API key, as `GET /user/info` describes it.
///
/// Field names are snake_case here and camelCase on the wire (`isAdmin`, `chargeBalance`,
/// `totalBalance`).
///
/// ```
/// use siliconflow::UserInfo;
///
/// let info: UserInfo = serde_json::from_str(
///     r#"{"id":"u1","name":"ada","balance":"0.88","chargeBalance":"88.00","totalBalance":"88.88","isAdmin":false}"#,
/// ).unwrap();
/// assert_eq!(info.total_balance, "88.88");
/// assert_eq!(info.total_balance_f64(), Some(88.88));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserInfo {
    /// The user id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// The user name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The avatar URL.
    #[serde(default, deserialize_with = "null_as_default")]
    pub image: String,
    /// The e-mail address.
    #[serde(default, deserialize_with = "null_as_default")]
    pub email: String,
    /// Whether the user is an administrator (`isAdmin`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_admin: bool,
    /// The gift (free) balance, a decimal string exactly as sent (`"0.88"`).
    #[serde(default, deserialize_with = "decimal_text")]
    pub balance: String,
    /// The account status (`"normal"`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    /// The self-introduction.
    #[serde(default, deserialize_with = "null_as_default")]
    pub introduction: String,
    /// The role.
    #[serde(default, deserialize_with = "null_as_default")]
    pub role: String,
    /// The paid (charged) balance (`chargeBalance`), a decimal string exactly as sent (`"88.00"`).
    #[serde(default, deserialize_with = "decimal_text")]
    pub charge_balance: String,
    /// The total balance (`totalBalance`), a decimal string exactly as sent (`"88.88"`).
    #[serde(default, deserialize_with = "decimal_text")]
    pub total_balance: String,
    /// The response this came from (not part of the JSON).
    #[serde(skip)]
    pub(crate) response: ResponseMeta,
}

with_response!(UserInfo);

impl UserInfo {
    /// The gift balance as a number, if it parses as a finite decimal.
    pub fn balance_f64(&self) -> Option<f64> {
        parse_decimal(&self.balance)
    }

    /// The paid balance as a number, if it parses as a finite decimal.
    pub fn charge_balance_f64(&self) -> Option<f64> {
        parse_decimal(&self.charge_balance)
    }

    /// The total balance as a number, if it parses as a finite decimal.
    pub fn total_balance_f64(&self) -> Option<f64> {
        parse_decimal(&self.total_balance)
    }
}

fn parse_decimal(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Reads a balance: a string as it is, a number as its JSON text, `null` as `""`.
fn decimal_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct Decimal;
    impl<'de> serde::de::Visitor<'de> for Decimal {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a decimal string or number")
        }
        fn visit_unit<E>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_none<E>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_str<E>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_string<E>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_u64<E>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E>(self, v: f64) -> Result<String, E> {
            // As `serde_json` writes the number.
            Ok(serde_json::Number::from_f64(v).map_or_else(String::new, |n| n.to_string()))
        }
    }
    deserializer.deserialize_any(Decimal)
}

impl Client {
    /// The account behind the API key, with its balances (`GET /user/info`).
    ///
    /// Errors, retries and timeouts are those of [`Client::chat`]; in addition an envelope that reports
    /// a failure (`status: false`, a `code` other than 20000, or no `data`) is [`Error::Api`] with status
    /// 200 and the envelope's code and message.
    ///
    /// ```no_run
    /// let client = siliconflow::Client::from_env()?;
    /// let info = client.user_info()?;
    /// println!("{}: ¥{} left", info.name, info.total_balance);
    /// if info.total_balance_f64().is_some_and(|b| b < 1.0) {
    ///     eprintln!("time to top up");
    /// }
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn user_info(&self) -> Result<UserInfo, Error> {
        self.call_enveloped(Call::get("user/info"), "/user/info")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn envelope(value: Value) -> Result<UserInfo, Error> {
        crate::envelope::decode(value, "/user/info")
    }

    #[test]
    fn success_envelope_unwraps_to_data() {
        let info = envelope(json!({
            "code": 20000, "message": "OK", "status": true,
            "data": {"id": "u", "name": "n", "balance": "0.88", "chargeBalance": "88.00",
                     "totalBalance": "88.88", "isAdmin": true, "unknown": 1, "email": null}
        }))
        .unwrap();
        assert_eq!(info.id, "u");
        assert!(info.is_admin);
        assert_eq!(info.email, "");
        assert_eq!(info.balance_f64(), Some(0.88));
        assert_eq!(info.charge_balance, "88.00");
        assert_eq!(info.charge_balance_f64(), Some(88.0));
        // A code sent as text is accepted too.
        assert!(envelope(json!({"code": "20000", "status": true, "data": {}})).is_ok());
    }

    #[test]
    fn numeric_and_missing_balances() {
        let info: UserInfo =
            serde_json::from_value(json!({"balance": 1.5, "totalBalance": null})).unwrap();
        assert_eq!(info.balance, "1.5");
        assert_eq!(info.total_balance, "");
        assert_eq!(info.total_balance_f64(), None);
        let info: UserInfo = serde_json::from_value(json!({"balance": "NaN"})).unwrap();
        assert_eq!(info.balance_f64(), None);
        assert!(serde_json::from_value::<UserInfo>(json!({"balance": [1]})).is_err());
    }

    #[test]
    fn failure_envelopes_are_api_errors() {
        for (value, code, message) in [
            (
                json!({"code": 30001, "message": "no", "status": false, "data": null}),
                Some("30001"),
                "no",
            ),
            (
                json!({"code": 20000, "message": "OK", "status": true, "data": null}),
                Some("20000"),
                "OK",
            ),
            (
                json!({"code": 50000, "message": "boom", "data": {"id": "u"}}),
                Some("50000"),
                "boom",
            ),
            (
                json!({"status": false, "data": {"id": "u"}}),
                None,
                "the /user/info answer reported a failure without a message",
            ),
        ] {
            let Err(Error::Api(e)) = envelope(value.clone()) else {
                panic!("{value} should be an API error");
            };
            assert_eq!(e.status, 200);
            assert_eq!(e.code.as_deref(), code, "{value}");
            assert_eq!(e.message, message);
            assert_eq!(serde_json::from_str::<Value>(&e.body).unwrap(), value);
        }
    }

    #[test]
    fn data_of_the_wrong_shape_is_malformed() {
        let err = envelope(json!({"code": 20000, "status": true, "data": [1, 2]})).unwrap_err();
        assert!(
            matches!(err, Error::MalformedChunk { event: 0, .. }),
            "{err:?}"
        );
    }
}
