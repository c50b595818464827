//! The builder-style setters every request type shares.

/// Generates `pub fn field(mut self, value: Arg) -> Self` setters for `Option` fields (the value goes
/// through `Into`), and `extra_field` for the flattened `extra` map.
macro_rules! option_setters {
    ($( $(#[$doc:meta])* $field:ident: $arg:ty ),* $(,)?) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $field(mut self, value: $arg) -> Self {
                self.$field = Some(value.into());
                self
            }
        )*

        /// Sets a field this crate has no method for; it is sent at the top level of the JSON body.
        #[must_use]
        pub fn extra_field(
            mut self,
            name: impl Into<String>,
            value: impl Into<serde_json::Value>,
        ) -> Self {
            self.extra.insert(name.into(), value.into());
            self
        }
    };
}
pub(crate) use option_setters;
