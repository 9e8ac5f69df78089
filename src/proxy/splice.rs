//! Zero-copy forwarding between two TCP sockets with splice(2) through a pipe (Linux).
//!
//! With no toxic on a direction of a TCP link, the pump moves bytes socket → pipe → socket
//! inside the kernel instead of copying them through a user-space buffer.

use std::io;
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};

/// A pump endpoint that may be a TCP socket (then zero-copy forwarding is possible).
pub(crate) trait Endpoint {
    fn tcp(&self) -> Option<&TcpStream> {
        None
    }
}

impl Endpoint for ReadHalf<'_> {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self.as_ref())
    }
}

impl Endpoint for WriteHalf<'_> {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self.as_ref())
    }
}

impl<T> Endpoint for tokio::io::ReadHalf<T> {}
impl<T> Endpoint for tokio::io::WriteHalf<T> {}

/// What one transfer did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Spliced {
    Moved(usize),
    EndOfStream,
    /// The source was not readable after all (a spurious wake-up).
    NotReady,
}

/// Which side failed.
#[derive(Debug)]
pub(crate) enum SpliceError {
    Read(io::Error),
    Write(io::Error),
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{SpliceError, Spliced};
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use tokio::io::Interest;
    use tokio::net::TcpStream;

    /// Bytes moved per splice call at most (the pipe is enlarged to this when allowed).
    const CHUNK: usize = 1024 * 1024;

    /// A non-blocking pipe between the two sockets.
    pub(crate) struct Pipe {
        read: OwnedFd,
        write: OwnedFd,
    }

    impl Pipe {
        pub(crate) fn new() -> io::Result<Pipe> {
            let mut fds = [0; 2];
            // SAFETY: pipe2 writes two descriptors into the array it is given.
            if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
            let (read, write) =
                unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
            // A bigger pipe means fewer system calls; the default (64 KiB) is fine if refused.
            // SAFETY: F_SETPIPE_SZ takes an int size and only affects this pipe.
            unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, CHUNK as libc::c_int) };
            Ok(Pipe { read, write })
        }
    }

    impl Pipe {
        /// Moves what `from` holds for `read` into the pipe without waiting: `Ok(0)` is the
        /// end of the stream, `WouldBlock` means nothing was there (call when `from` is
        /// readable).
        pub(crate) fn fill(&self, from: &TcpStream) -> io::Result<usize> {
            from.try_io(Interest::READABLE, || {
                splice(from.as_raw_fd(), self.write.as_raw_fd(), CHUNK)
            })
        }

        /// Writes up to `left` bytes of the pipe to `to` without waiting; returns how many
        /// are still in the pipe (more than 0 when `to` has no room).
        pub(crate) fn empty_into(&self, to: &TcpStream, mut left: usize) -> io::Result<usize> {
            while left > 0 {
                match splice(self.read.as_raw_fd(), to.as_raw_fd(), left) {
                    Ok(m) => left -= m,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err) => return Err(err),
                }
            }
            Ok(left)
        }

        /// Writes `left` bytes of the pipe to `to`, waiting for room.
        pub(crate) async fn flush(&self, to: &TcpStream, mut left: usize) -> io::Result<()> {
            while left > 0 {
                to.writable().await?;
                match to.try_io(Interest::WRITABLE, || {
                    splice(self.read.as_raw_fd(), to.as_raw_fd(), left)
                }) {
                    Ok(m) => left -= m,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                    Err(err) => return Err(err),
                }
            }
            Ok(())
        }
    }

    fn splice(from: i32, to: i32, len: usize) -> io::Result<usize> {
        // SAFETY: both descriptors are open for the duration of the call; null offsets mean
        // "current position", as required for sockets and pipes.
        let n = unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
            )
        };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }

    /// Moves what `from` has (up to one pipe-full) to `to`; call when `from` is readable.
    pub(crate) async fn forward(
        pipe: &Pipe,
        from: &TcpStream,
        to: &TcpStream,
    ) -> Result<Spliced, SpliceError> {
        let n = match pipe.fill(from) {
            Ok(0) => return Ok(Spliced::EndOfStream),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(Spliced::NotReady),
            Err(err) => return Err(SpliceError::Read(err)),
        };
        pipe.flush(to, n).await.map_err(SpliceError::Write)?;
        Ok(Spliced::Moved(n))
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::{SpliceError, Spliced};
    use std::io;
    use tokio::net::TcpStream;

    /// No splice(2) here: the pump copies through its buffer instead.
    pub(crate) struct Pipe;

    impl Pipe {
        pub(crate) fn new() -> io::Result<Pipe> {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        }

        pub(crate) fn fill(&self, _from: &TcpStream) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        }

        pub(crate) fn empty_into(&self, _to: &TcpStream, _left: usize) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        }

        pub(crate) async fn flush(&self, _to: &TcpStream, _left: usize) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        }
    }

    pub(crate) async fn forward(
        _pipe: &Pipe,
        _from: &TcpStream,
        _to: &TcpStream,
    ) -> Result<Spliced, SpliceError> {
        Err(SpliceError::Read(io::Error::from(
            io::ErrorKind::Unsupported,
        )))
    }
}

pub(crate) use imp::{Pipe, forward};

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (a, b) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (a.unwrap(), b.unwrap().0)
    }

    #[tokio::test]
    async fn bytes_are_moved_between_sockets_and_eof_is_seen() {
        let (mut client, from) = pair().await;
        let (to, mut server) = pair().await;
        let pipe = Pipe::new().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        client.write_all(&data).await.unwrap();
        client.shutdown().await.unwrap();
        let mut moved = 0;
        loop {
            from.readable().await.unwrap();
            match forward(&pipe, &from, &to).await.unwrap() {
                Spliced::Moved(n) => moved += n,
                Spliced::NotReady => {}
                Spliced::EndOfStream => break,
            }
        }
        assert_eq!(moved, data.len());
        let mut got = vec![0; data.len()];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(got, data);
    }
}
