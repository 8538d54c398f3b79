//! The kinds of failure a user can tell apart, each with its exit code (SPEC.md): 2 bad usage or
//! malformed input, 3 refused by the current state, 1 anything else.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad usage or malformed input: nothing changed.
    Usage,
    /// Well-formed but refused by the current state: nothing changed.
    Refused,
    /// The command did what it could, but not all of its work, and has already said why on
    /// stderr (a tick that lacks a secret): exit 1 with nothing more printed.
    Reported,
}

impl Kind {
    pub fn code(self) -> i32 {
        match self {
            Kind::Usage => 2,
            Kind::Refused => 3,
            Kind::Reported => 1,
        }
    }
}

/// An error whose kind decides the exit code; wrapped in `anyhow::Error` like any other.
#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        kind: Kind::Usage,
        message: message.into(),
    })
}

pub fn refused(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        kind: Kind::Refused,
        message: message.into(),
    })
}

pub fn reported(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        kind: Kind::Reported,
        message: message.into(),
    })
}

/// The kind of an error anywhere in its chain, if it has one.
pub fn kind_of(error: &anyhow::Error) -> Option<Kind> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Failure>())
        .map(|failure| failure.kind)
}

/// The process exit code for an error.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    kind_of(error).map_or(1, Kind::code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_kind_survives_added_context() {
        let error = Err::<(), _>(refused("task 42 is running"))
            .context("cancel")
            .unwrap_err();
        assert_eq!(exit_code(&error), 3);
        assert_eq!(exit_code(&usage("bad")), 2);
        assert_eq!(exit_code(&anyhow::anyhow!("disk full")), 1);
    }
}
