//! Wall-clock helpers and date formats (RFC 3339 for JSON and Atom, RFC 2822 for RSS), written
//! here rather than pulling a date crate: civil-from-days is a dozen lines.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// (year, month, day, hour, minute, second, weekday 0=Sunday) in UTC.
fn civil(ms: u64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let weekday = (days + 4).rem_euclid(7) as u32;
    (if m <= 2 { y + 1 } else { y }, m, d, (rem / 3600) as u32, (rem % 3600 / 60) as u32, (rem % 60) as u32, weekday)
}

/// `2026-11-22T15:31:20Z`
pub fn rfc3339(ms: u64) -> String {
    let (y, mo, d, h, mi, s, _) = civil(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `Sun, 22 Nov 2026 15:31:20 +0000` (RSS pubDate)
pub fn rfc2822(ms: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (y, mo, d, h, mi, s, wd) = civil(ms);
    format!("{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} +0000", DAYS[wd as usize], MONTHS[mo as usize - 1])
}

/// `22 Nov 2026` for pages.
pub fn human_date(ms: u64) -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (y, mo, d, h, mi, _, _) = civil(ms);
    format!("{d} {} {y}, {h:02}:{mi:02}", MONTHS[mo as usize - 1])
}

/// How long ago `ms` was, as `now_ms` sees it, in the short form timelines use (Mastodon's web UI):
/// "now" under a minute, "5m", "3h", "6d" within a week, then the date ("3 Nov", with the year
/// when it is not this year's). A time in the future (a clock ahead of ours) reads "now".
pub fn relative(ms: u64, now_ms: u64) -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let s = now_ms.saturating_sub(ms) / 1000;
    match s {
        0..=59 => "now".into(),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        86_400..=604_799 => format!("{}d", s / 86_400),
        _ => {
            let (y, mo, d, ..) = civil(ms);
            if y == civil(now_ms).0 {
                format!("{d} {}", MONTHS[mo as usize - 1])
            } else {
                format!("{d} {} {y}", MONTHS[mo as usize - 1])
            }
        }
    }
}

/// Parse `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` into ms since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b't' && b[10] != b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = s.get(start..i.min(start + 3))?;
        frac_ms = format!("{digits:0<3}").parse().ok()?;
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' => 0,
        sign @ (b'+' | b'-') => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let o = oh * 60 + om;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    // days_from_civil
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = if mo > 2 { mo - 3 } else { mo + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    if secs < 0 {
        return None;
    }
    Some(secs as u64 * 1000 + frac_ms as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn relative_times_are_short_and_fall_back_to_the_date() {
        let now = 1_795_361_480_000; // 2026-11-22T15:31:20Z
        assert_eq!(relative(now - 5_000, now), "now");
        assert_eq!(relative(now + 60_000, now), "now", "a clock ahead of ours");
        assert_eq!(relative(now - 5 * 60_000, now), "5m");
        assert_eq!(relative(now - 3 * 3_600_000, now), "3h");
        assert_eq!(relative(now - 6 * 86_400_000, now), "6d");
        assert_eq!(relative(now - 30 * 86_400_000, now), "23 Oct");
        assert_eq!(relative(now - 400 * 86_400_000, now), "18 Oct 2025");
    }
    #[test]
    fn formats_and_parses() {
        let ms = 1_795_361_480_000; // 2026-11-22T15:31:20Z
        assert_eq!(rfc3339(ms), "2026-11-22T15:31:20Z");
        assert_eq!(rfc2822(ms), "Sun, 22 Nov 2026 15:31:20 +0000");
        assert_eq!(parse_rfc3339("2026-11-22T15:31:20Z"), Some(ms));
        assert_eq!(parse_rfc3339("2026-11-22T16:31:20.250+01:00"), Some(ms + 250));
        assert_eq!(parse_rfc3339("2026-13-22T16:31:20Z"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
    }
}
