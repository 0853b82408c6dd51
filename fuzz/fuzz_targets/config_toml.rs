//! The configuration loader: TOML text over the defaults, deserialised and
//! validated (every section, each channel's too), as `herold.toml` is
//! read; then what the rest of Herold derives from a loaded configuration.
#![no_main]

use herold::fuzzing::config_from_toml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config_from_toml(text) {
        Ok(config) => {
            assert!(config.validate().is_ok());
            let _ = config.to_redacted_toml();
            let _ = config.tz();
            let _ = config.websub_hub_url();
            let _ = config.key_source();
            let _ = config.default_key_file();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
