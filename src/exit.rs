//! The exit codes of `slo`, part of its interface (DESIGN.md "CLI shape"; README "Exit codes").
//! Only `main` ends the process; every command returns one of these.

/// Why `slo` exits. The numeric values are stable: CI pipelines branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0: everything judged passed (warnings included), or the command succeeded.
    Pass = 0,
    /// 1: an SLO or threshold was breached, a regression was found, or an operation failed.
    Failed = 1,
    /// 2: invalid input: a bad flag, config file, scenario or data file.
    InvalidInput = 2,
    /// 3: no data to judge, or the run was not found.
    NoData = 3,
    /// 4: a backend (InfluxDB, Prometheus) could not be reached.
    BackendUnreachable = 4,
    /// 130: interrupted by Ctrl-C.
    Interrupted = 130,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error that carries the exit code it must end the process with.
#[derive(Debug)]
pub struct ExitError {
    /// The exit code.
    pub exit: Exit,
    /// What went wrong, with its causes.
    pub error: anyhow::Error,
}

impl std::fmt::Display for ExitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for ExitError {}

/// Attaches an exit code to an error.
pub trait WithExit<T> {
    /// Turns the error into an [`ExitError`] with exit code `exit`.
    fn exit_with(self, exit: Exit) -> Result<T, anyhow::Error>;
}

impl<T, E: Into<anyhow::Error>> WithExit<T> for Result<T, E> {
    fn exit_with(self, exit: Exit) -> Result<T, anyhow::Error> {
        self.map_err(|e| anyhow::Error::new(ExitError { exit, error: e.into() }))
    }
}

/// The exit code for an error: the first [`ExitError`] in its chain, else `Failed`.
pub fn exit_of(e: &anyhow::Error) -> Exit {
    e.chain().find_map(|c| c.downcast_ref::<ExitError>().map(|x| x.exit)).unwrap_or(Exit::Failed)
}
