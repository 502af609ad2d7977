//! One job: `INSERT` statements whose values are bound without being copied, prepared once a
//! connection. rusqlite binds every text and blob as `SQLITE_TRANSIENT`, so SQLite copies each
//! value into memory of its own (a free and a malloc per value) before the statement reads it,
//! and the statement then copies it again into the row. For the ledger's rows (the lead id and
//! its entry, about 120 bytes a lead) those copies were a seventh of the committing thread's
//! work (docs/benchmarks.md). Here values are bound `SQLITE_STATIC`: SQLite reads them where
//! they lie, and the borrow checker keeps them there for as long as the statement holds them.
//! A [`CachingConnection`] keeps each statement it prepared (a batch's inserts of 64 rows took
//! 77,000 instructions each to prepare), with no value bound between uses. (A statement
//! `mem::forget`-ten while in use would stay unfinalized: sound, as nothing steps it again,
//! but its connection could not close; nothing here forgets one.)

// The store's one `unsafe`: calls into SQLite's C interface, on the connection rusqlite opened.
#![allow(unsafe_code)]

use rusqlite::{Connection, ffi};
use std::cell::RefCell;
use std::ffi::{CStr, c_int};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// A connection, and the statements [`CachingConnection::insert`] prepared on it, finalized
/// before it closes. It reads as the connection it holds.
pub(super) struct CachingConnection {
    /// The statements not in use, with their text (a few: one per insert a batch makes).
    statements: KeptStatements,
    connection: Connection,
}

impl CachingConnection {
    pub(super) fn new(connection: Connection) -> CachingConnection {
        CachingConnection {
            statements: RefCell::new(Vec::new()),
            connection,
        }
    }

    /// The statement `sql`, prepared on this connection the first time it is asked for and
    /// kept (it goes back when the answer is dropped, with no value bound).
    pub(super) fn insert<'c, 'd>(&'c self, sql: &str) -> rusqlite::Result<StaticStatement<'c, 'd>> {
        let kept = self
            .statements
            .try_borrow_mut()
            .ok()
            .and_then(|mut statements| {
                let at = statements.iter().position(|(text, _)| text == sql)?;
                Some(statements.swap_remove(at))
            });
        let (text, statement) = match kept {
            Some(kept) => kept,
            None => (sql.to_string(), prepare(&self.connection, sql)?),
        };
        Ok(StaticStatement {
            owner: self,
            statement,
            values: PhantomData,
            text,
        })
    }
}

// SAFETY: a connection moves to another thread with the statements prepared on it (SQLite's
// multi-thread mode, rusqlite's default: a connection and its statements may be used from any
// thread, one at a time). They are used only through `&self`, and `CachingConnection` is not
// `Sync` (the `RefCell`), so never from two threads at once.
unsafe impl Send for CachingConnection {}

impl std::ops::Deref for CachingConnection {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.connection
    }
}

impl Drop for CachingConnection {
    fn drop(&mut self) {
        for (_, statement) in self.statements.get_mut().drain(..) {
            // SAFETY: each statement was prepared on `self.connection`, which is still open
            // (fields are dropped after `drop`), is not in use (those in use borrow `self`),
            // and is finalized once, here.
            unsafe {
                ffi::sqlite3_finalize(statement.as_ptr());
            }
        }
    }
}

/// A value to bind, borrowed for `'d`.
#[derive(Debug, Clone, Copy)]
pub(super) enum Bound<'d> {
    Int(i64),
    Text(&'d str),
    Blob(&'d [u8]),
}

/// A prepared statement of `'c`'s [`CachingConnection`] whose bound values borrow data that
/// lives for `'d`: until it is dropped SQLite may read the values bound last, so they must
/// outlive it, which `'d` says. Dropped, it goes back to the connection with no value bound.
pub(super) struct StaticStatement<'c, 'd> {
    /// The connection it was prepared on, which takes it back when it is dropped.
    owner: &'c CachingConnection,
    statement: NonNull<ffi::sqlite3_stmt>,
    values: PhantomData<&'d [u8]>,
    /// Its text, the key it is kept by.
    text: String,
}

/// A [`CachingConnection`]'s statements not in use.
type KeptStatements = RefCell<Vec<(String, NonNull<ffi::sqlite3_stmt>)>>;

/// Where an empty text or blob points: SQLite binds a null pointer as NULL, and a dangling one
/// is read by nothing but is not a pointer to give C.
static EMPTY: [u8; 1] = [0];

impl<'c, 'd> StaticStatement<'c, 'd> {
    /// Binds `value` to the parameter `index` (1-based).
    pub(super) fn bind(&mut self, index: usize, value: Bound<'d>) -> rusqlite::Result<()> {
        let index = c_int::try_from(index).map_err(|_| too_big())?;
        let statement = self.statement.as_ptr();
        let bytes = |bytes: &'d [u8]| -> rusqlite::Result<(*const u8, c_int)> {
            let length = c_int::try_from(bytes.len()).map_err(|_| too_big())?;
            let at = if bytes.is_empty() {
                EMPTY.as_ptr()
            } else {
                bytes.as_ptr()
            };
            Ok((at, length))
        };
        // SAFETY: `statement` is this prepared statement, not finalized before `self` is
        // dropped. A text or blob is bound `SQLITE_STATIC`: SQLite keeps its pointer until the
        // parameter is bound again or the statement is finalized, and reads its `length` bytes
        // only; the data lives for `'d`, which outlives `self` (`values`), so it is there for
        // as long as SQLite may read it. The pointer is never null (an empty value points at
        // `EMPTY`), so SQLite binds an empty text or blob, not NULL.
        let code = unsafe {
            match value {
                Bound::Int(number) => ffi::sqlite3_bind_int64(statement, index, number),
                Bound::Text(text) => {
                    let (at, length) = bytes(text.as_bytes())?;
                    ffi::sqlite3_bind_text(
                        statement,
                        index,
                        at.cast(),
                        length,
                        ffi::SQLITE_STATIC(),
                    )
                }
                Bound::Blob(blob) => {
                    let (at, length) = bytes(blob)?;
                    ffi::sqlite3_bind_blob(
                        statement,
                        index,
                        at.cast(),
                        length,
                        ffi::SQLITE_STATIC(),
                    )
                }
            }
        };
        if code == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(failure(self.owner, code))
        }
    }

    /// Runs the statement with the values bound, and makes it ready to run again (its values
    /// stay bound). Answers how many rows it changed; a statement that answers rows fails.
    pub(super) fn execute(&mut self) -> rusqlite::Result<usize> {
        let statement = self.statement.as_ptr();
        // SAFETY: `statement` is this prepared statement, on its owner's handle, which
        // is open and used on this thread only; its values are alive (see `bind`).
        let (code, changes, reset) = unsafe {
            let code = ffi::sqlite3_step(statement);
            let changes = ffi::sqlite3_changes64(self.owner.handle());
            let reset = ffi::sqlite3_reset(statement);
            (code, changes, reset)
        };
        match code {
            ffi::SQLITE_DONE if reset == ffi::SQLITE_OK => {
                Ok(usize::try_from(changes).unwrap_or_default())
            }
            ffi::SQLITE_DONE => Err(failure(self.owner, reset)),
            ffi::SQLITE_ROW => Err(rusqlite::Error::ExecuteReturnedResults),
            code => Err(failure(self.owner, code)),
        }
    }
}

impl Drop for StaticStatement<'_, '_> {
    fn drop(&mut self) {
        let statement = self.statement.as_ptr();
        // SAFETY: `statement` was prepared on this connection, which is still open (`'c`).
        // Once reset with its values unbound it holds no pointer into data of `'d`, so it may
        // outlive that data, kept by the connection, which finalizes it.
        unsafe {
            ffi::sqlite3_reset(statement);
            ffi::sqlite3_clear_bindings(statement);
        }
        if let Ok(mut kept) = self.owner.statements.try_borrow_mut() {
            kept.push((std::mem::take(&mut self.text), self.statement));
            return;
        }
        // SAFETY: as above; not kept, it is finalized once, here, and nothing uses it after.
        unsafe {
            ffi::sqlite3_finalize(statement);
        }
    }
}

/// Prepares `sql`, one statement, on `connection`.
fn prepare(connection: &Connection, sql: &str) -> rusqlite::Result<NonNull<ffi::sqlite3_stmt>> {
    let length = c_int::try_from(sql.len()).map_err(|_| too_big())?;
    let mut statement = std::ptr::null_mut();
    let mut tail: *const std::ffi::c_char = std::ptr::null();
    // SAFETY: `handle` is the open connection `connection` borrows, used on this thread only
    // (`Connection` is not `Sync`); `sql` is valid for `length` bytes, and SQLite reads no
    // further (the length is given); `statement` and `tail` are places for the answers (`tail`
    // points into `sql`, at what follows the first statement).
    let code = unsafe {
        ffi::sqlite3_prepare_v2(
            connection.handle(),
            sql.as_ptr().cast(),
            length,
            &mut statement,
            &mut tail,
        )
    };
    if code != ffi::SQLITE_OK {
        return Err(failure(connection, code));
    }
    // An empty text prepares to nothing.
    let statement = NonNull::new(statement).ok_or(rusqlite::Error::InvalidQuery)?;
    // One statement only: what follows the first would be dropped unseen.
    let read = tail.addr().saturating_sub(sql.as_ptr().addr());
    if sql.get(read..).is_none_or(|rest| !rest.trim().is_empty()) {
        // SAFETY: just prepared on this connection, not used by anything else; finalized once.
        unsafe {
            ffi::sqlite3_finalize(statement.as_ptr());
        }
        return Err(rusqlite::Error::MultipleStatement);
    }
    Ok(statement)
}

/// SQLite's error `code`, with the message the connection holds for it.
fn failure(connection: &Connection, code: c_int) -> rusqlite::Error {
    // SAFETY: the handle is the open connection's; `sqlite3_errmsg` answers a NUL-terminated
    // text SQLite owns, valid until the next call on the connection, and copied before it.
    let message = unsafe {
        let text = ffi::sqlite3_errmsg(connection.handle());
        (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), message)
}

/// A text, a value or an index too long for SQLite's `int` lengths.
fn too_big() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_TOOBIG), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_bound_where_they_lie_are_written_and_refusals_keep_sqlites_code() {
        let connection = CachingConnection::new(Connection::open_in_memory().unwrap());
        connection
            .execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY, s TEXT, b BLOB)")
            .unwrap();
        let texts = ["one".to_string(), String::new(), "три".to_string()];
        let blobs: [&[u8]; 3] = [b"\x00\x01", b"", b"\xff"];
        {
            let mut insert = connection.insert("INSERT INTO t VALUES (?, ?, ?)").unwrap();
            for (n, (text, blob)) in texts.iter().zip(blobs).enumerate() {
                insert.bind(1, Bound::Int(n as i64)).unwrap();
                insert.bind(2, Bound::Text(text)).unwrap();
                insert.bind(3, Bound::Blob(blob)).unwrap();
                assert_eq!(insert.execute().unwrap(), 1);
            }
            // The key refuses a row: SQLite's own code comes back, and the statement runs again.
            insert.bind(1, Bound::Int(0)).unwrap();
            let refused = insert.execute().unwrap_err();
            assert_eq!(
                refused.sqlite_error_code(),
                Some(rusqlite::ErrorCode::ConstraintViolation)
            );
            assert!(refused.to_string().contains("UNIQUE"), "{refused}");
            insert.bind(1, Bound::Int(3)).unwrap();
            assert_eq!(insert.execute().unwrap(), 1);
            assert!(insert.bind(4, Bound::Int(0)).is_err());
        }
        let rows: Vec<(i64, String, Vec<u8>, String)> = connection
            .prepare("SELECT n, s, b, typeof(b) FROM t ORDER BY n")
            .unwrap()
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (0, "one".to_string(), vec![0, 1], "blob".to_string()),
                // Empty, not NULL.
                (1, String::new(), vec![], "blob".to_string()),
                (2, "три".to_string(), vec![0xff], "blob".to_string()),
                // The values bound last stay bound.
                (3, "три".to_string(), vec![0xff], "blob".to_string()),
            ]
        );
        assert!(connection.insert("INSERT INTO missing VALUES (1)").is_err());
        assert!(connection.insert("").is_err());
        assert!(matches!(
            connection.insert("INSERT INTO t VALUES (9, 'a', x'00'); DELETE FROM t"),
            Err(rusqlite::Error::MultipleStatement)
        ));
        assert!(
            connection
                .insert("INSERT INTO t VALUES (9, 'a', x'00');  ")
                .is_ok()
        );
    }

    #[test]
    fn a_caching_connection_prepares_an_insert_once_and_keeps_no_value_bound() {
        let connection = CachingConnection::new(Connection::open_in_memory().unwrap());
        connection.execute_batch("CREATE TABLE t (s TEXT)").unwrap();
        let sql = "INSERT INTO t VALUES (?)";
        for text in ["one", "two"] {
            let owned = text.to_string();
            let mut insert = connection.insert(sql).unwrap();
            insert.bind(1, Bound::Text(&owned)).unwrap();
            assert_eq!(insert.execute().unwrap(), 1);
            drop(insert);
            assert_eq!(connection.statements.borrow().len(), 1);
        }
        // Kept with nothing bound: run again, it writes NULL.
        let kept = connection.statements.borrow()[0].1;
        let mut insert = connection.insert(sql).unwrap();
        assert_eq!(insert.statement, kept);
        // Two at once (the second is prepared afresh, and both are kept after).
        let second = connection.insert(sql).unwrap();
        assert_ne!(second.statement, kept);
        drop(second);
        assert_eq!(insert.execute().unwrap(), 1);
        drop(insert);
        assert_eq!(connection.statements.borrow().len(), 2);
        let texts: Vec<Option<String>> = connection
            .prepare("SELECT s FROM t ORDER BY rowid")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(texts, [Some("one".into()), Some("two".into()), None]);
    }
}
