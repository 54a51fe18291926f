//! Task schedules: manual, or a Quartz-style cron expression (seconds first, `?` allowed),
//! as Nexus takes them. Evaluated in UTC with `croner`.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", tag = "schedule", content = "cronExpression")]
pub enum Schedule {
    Manual,
    Cron(String),
}

impl Schedule {
    /// An empty expression means manual.
    pub fn from_expression(expr: &str) -> Self {
        if expr.trim().is_empty() {
            Schedule::Manual
        } else {
            Schedule::Cron(expr.to_string())
        }
    }

    /// Nexus's `schedule` field value.
    pub fn kind(&self) -> &'static str {
        match self {
            Schedule::Manual => "manual",
            Schedule::Cron(_) => "cron",
        }
    }

    /// Checks a cron expression; the message says what is wrong.
    pub fn validate(expr: &str) -> Result<(), String> {
        parse(expr).map(|_| ())
    }

    /// The first start strictly after `after` (Unix seconds), if scheduled.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let Schedule::Cron(expr) = self else {
            return None;
        };
        let cron = parse(expr).ok()?;
        let start: DateTime<Utc> = DateTime::from_timestamp(after, 0)?;
        cron.find_next_occurrence(&start, false)
            .ok()
            .map(|t| t.timestamp())
    }
}

fn parse(expr: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .alternative_weekdays(true)
        .build()
        .parse(expr)
        .or_else(|_| Cron::from_str(expr))
        .map_err(|e| format!("invalid cron expression {expr:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quartz_daily_expression_runs_once_a_day_at_its_hour() {
        let s = Schedule::Cron("0 0 3 * * ?".into());
        // 2025-01-01T00:00:00Z
        let next = s.next_after(1_735_689_600).unwrap();
        assert_eq!(next, 1_735_689_600 + 3 * 3600);
        assert_eq!(s.next_after(next).unwrap(), next + 24 * 3600);
    }

    #[test]
    fn nonsense_is_refused_and_manual_never_runs() {
        assert!(Schedule::validate("every tuesday").is_err());
        assert_eq!(Schedule::Manual.next_after(0), None);
    }
}
