//! A realistic policy generator for benchmarks: territories x products x deal tiers x intent x
//! fit, one named rule per combination, in the order a RevOps team would write them.
//!
//! Shared by the benchmarks (included with `#[path]`); deterministic, no randomness.

/// Deal tiers as `[low, high)` bounds on `deal_value`.
const TIERS: [(u64, u64); 5] = [
    (0, 5_000),
    (5_000, 10_000),
    (10_000, 50_000),
    (50_000, 250_000),
    (250_000, 100_000_000),
];
const INTENTS: [&str; 3] = ["low", "medium", "high"];
const FITS: [&str; 2] = ["weak", "strong"];

/// Territories and products in the schema: enough for 10,000 rules. The schema stays the same
/// at every size, so that benchmarks vary the number of rules and nothing else.
const SIDE: usize = 19;

/// A policy with `rules` named rules (plus a final `otherwise`).
pub fn policy(rules: usize) -> String {
    let per_pair = TIERS.len() * INTENTS.len() * FITS.len();
    let needed = ((rules.max(1) as f64) / per_pair as f64).sqrt().ceil() as usize;
    let side = needed.max(SIDE);
    let regions: Vec<String> = (0..side).map(|i| format!("territory_{i}")).collect();
    let products: Vec<String> = (0..side).map(|i| format!("product_{i}")).collect();
    let mut out = String::new();
    out.push_str("# generated: territories x products x deal tiers x intent x fit\n");
    out.push_str("schema lead {\n  id: string\n");
    out.push_str(&format!("  region: enum {{ {} }}\n", regions.join(", ")));
    out.push_str(&format!("  product: enum {{ {} }}\n", products.join(", ")));
    out.push_str("  intent: enum { low, medium, high }\n  fit: enum { weak, strong }\n");
    out.push_str("  deal_value: number\n  country: string\n  contact_owner: string?\n  created_at: time\n}\n\n");
    out.push_str("calendar office { timezone Europe/Berlin  hours mon-fri 09:00-18:00  holidays 2026-12-24, 2026-12-25 }\n\n");
    for region in &regions {
        out.push_str(&format!(
            "pool {region}_senior {{ members {region}_anna, {region}_boris, {region}_chen  strategy round_robin  cap 25  calendar office }}\n\
             pool {region}_sdr {{ members {region}_dmitri, {region}_egor  strategy weighted({region}_dmitri=2, {region}_egor=1)  calendar office }}\n"
        ));
    }
    out.push_str("pool backup { members backup_1, backup_2 strategy ordered calendar office }\nqueue nurture\nqueue review\n\n");
    let mut written = 0;
    'outer: for region in &regions {
        for product in &products {
            for (tier, (low, high)) in TIERS.iter().enumerate() {
                for intent in INTENTS {
                    for fit in FITS {
                        if written == rules {
                            break 'outer;
                        }
                        let action = match (intent, fit, tier) {
                            ("high", "strong", _) | (_, _, 3..) => {
                                format!("pool {region}_senior within 15m escalate backup after 30m")
                            }
                            ("low", "weak", _) => "queue nurture".to_string(),
                            _ => format!("pool {region}_sdr within 4h escalate backup after 8h"),
                        };
                        out.push_str(&format!(
                            "rule r_{region}_{product}_t{tier}_{intent}_{fit}:\n  when region = {region} and product = {product}\n   and deal_value >= {low} and deal_value < {high}\n   and intent = {intent} and fit = {fit}\n  -> {action}\n"
                        ));
                        written += 1;
                    }
                }
            }
        }
    }
    out.push_str("otherwise -> queue review\n");
    out
}

/// `count` leads as NDJSON, deterministic: in the territories and products the first 100 rules
/// cover, with the CRM noise fields a schema ignores.
#[allow(dead_code)] // not every benchmark routes leads
pub fn leads(count: usize) -> Vec<u8> {
    use std::io::Write;
    let mut seed: u64 = 0x1eed;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let intents = ["low", "medium", "high"];
    let fits = ["weak", "strong"];
    let mut out = Vec::with_capacity(count * 200);
    for i in 0..count {
        // Leads in the territories and products the 100 rules cover, plus CRM noise fields.
        writeln!(
            out,
            r#"{{"id":"L-{i}","region":"territory_0","product":"product_{}","intent":"{}","fit":"{}","deal_value":{},"country":"DE","created_at":"2026-11-23T{:02}:{:02}:00+01:00","utm_source":"newsletter","crm_id":"00Q{i:09}"}}"#,
            next(4),
            intents[next(3) as usize],
            fits[next(2) as usize],
            next(300_000),
            8 + next(12),
            next(60),
        )
        .unwrap();
    }
    out
}
