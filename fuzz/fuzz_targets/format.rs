//! Fuzz target: the formatter never panics, is idempotent, and keeps a policy's meaning (the
//! resolved rules, when the text checks).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(once) = switchboard_core::format::format(text) else {
        return;
    };
    let twice = switchboard_core::format::format(&once).expect("formatted text parses");
    assert_eq!(once, twice, "formatting is idempotent");
    let before = switchboard_core::check_source(text).compiled.map(|(policy, _)| format!("{:?}", policy.rules.iter().map(|r| (&r.label, &r.cond)).collect::<Vec<_>>()));
    let after = switchboard_core::check_source(&once).compiled.map(|(policy, _)| format!("{:?}", policy.rules.iter().map(|r| (&r.label, &r.cond)).collect::<Vec<_>>()));
    assert_eq!(before, after, "formatting keeps the rules");
});
