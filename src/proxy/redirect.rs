//! Forwarding inside the kernel for connections with no toxic: a sockmap redirect (Linux).
//!
//! A proxy that forwards through user space pays for a wake-up and two system calls per
//! chunk in each direction, even with splice(2). When a TCP link has no toxic, pfi can instead
//! put both sockets of a connection in a BPF `SOCKHASH` with a small stream-verdict program:
//! every segment that arrives on one socket is queued straight onto the other one's send
//! path, and the proxy's threads sleep until the connection ends or a toxic is added.
//!
//! The program (hand-assembled below, 33 instructions) looks up the receiving socket's
//! cookie in `slots`, adds the segment's length to that socket's counter in the `moved` array
//! and redirects it to the peer stored under the same cookie in `peers`. The counter's top bit
//! is the off switch: once user space sets it, segments stay on their own socket, where
//! `read` finds them in order. The counter's value at that moment is exactly what was
//! redirected, so user space can wait until the peer has queued that many bytes (its acked
//! bytes plus its send queue) before it writes anything itself: no byte is lost or
//! reordered when a connection leaves the fast path.
//!
//! Needs CAP_BPF and CAP_NET_ADMIN (root). Without them `Redirector::new` fails and links
//! forward in user space as before. Nothing here outlives the process: maps, program and
//! attachments are freed with their descriptors.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Connections in the fast path at once (two sockets each); later ones forward in user space.
const CONNECTIONS: u32 = 8192;
/// The counter bit that sends a socket's segments back to the socket itself.
const OFF: u64 = 1 << 63;

// The uapi numbers used here (linux/bpf.h); they are part of the kernel's stable ABI.
const BPF_MAP_CREATE: libc::c_int = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_int = 2;
const BPF_MAP_DELETE_ELEM: libc::c_int = 3;
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const MAP_HASH: u32 = 1;
const MAP_ARRAY: u32 = 2;
const MAP_SOCKHASH: u32 = 18;
const MAP_F_MMAPABLE: u32 = 1 << 10;
const PROG_SK_SKB: u32 = 14;
const ATTACH_SK_SKB_STREAM_VERDICT: u32 = 5;
const SO_COOKIE: libc::c_int = 57;
const TCP_CLOSE: u8 = 7;

/// One BPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Clone, Copy)]
struct Insn {
    code: u8,
    /// dst in the low nibble, src in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// The verdict program; `maps` are the descriptors of `slots`, `moved` and `peers`.
fn program(slots: RawFd, moved: RawFd, peers: RawFd) -> Vec<Insn> {
    // Opcodes: class | size | mode (or op | source).
    const MOV64_X: u8 = 0xbf;
    const MOV64_K: u8 = 0xb7;
    const ADD64_K: u8 = 0x07;
    const RSH64_K: u8 = 0x77;
    const LDX_W: u8 = 0x61;
    const STX_W: u8 = 0x63;
    const STX_DW: u8 = 0x7b;
    const LD_IMM64: u8 = 0x18;
    const ATOMIC_DW: u8 = 0xdb;
    const JEQ_K: u8 = 0x15;
    const JNE_K: u8 = 0x55;
    const CALL: u8 = 0x85;
    const EXIT: u8 = 0x95;
    const PSEUDO_MAP_FD: u8 = 1;
    const FETCH_ADD: i32 = 0x01;
    const MAP_LOOKUP: i32 = 1;
    const GET_SOCKET_COOKIE: i32 = 46;
    const SK_REDIRECT_HASH: i32 = 72;
    const PASS: i16 = 29;
    const DROP: i16 = 31;
    let map = |dst: u8, fd: RawFd| {
        [
            insn(LD_IMM64, dst, PSEUDO_MAP_FD, 0, fd),
            insn(0, 0, 0, 0, 0),
        ]
    };
    let mut p = vec![
        insn(MOV64_X, 6, 1, 0, 0),              // 0: r6 = skb
        insn(CALL, 0, 0, 0, GET_SOCKET_COOKIE), // 1: r0 = cookie of the receiving socket
        insn(STX_DW, 10, 0, -8, 0),             // 2: stack[-8] = cookie
    ];
    p.extend(map(1, slots)); // 3-4: r1 = slots
    p.extend([
        insn(MOV64_X, 2, 10, 0, 0),      // 5
        insn(ADD64_K, 2, 0, 0, -8),      // 6: r2 = &cookie
        insn(CALL, 0, 0, 0, MAP_LOOKUP), // 7: r0 = &slots[cookie]
        insn(JEQ_K, 0, 0, PASS - 9, 0),  // 8: not in the fast path: pass
        insn(LDX_W, 1, 0, 0, 0),         // 9: r1 = slot
        insn(STX_W, 10, 1, -12, 0),      // 10: stack[-12] = slot
    ]);
    p.extend(map(1, moved)); // 11-12: r1 = moved
    p.extend([
        insn(MOV64_X, 2, 10, 0, 0),          // 13
        insn(ADD64_K, 2, 0, 0, -12),         // 14: r2 = &slot
        insn(CALL, 0, 0, 0, MAP_LOOKUP),     // 15: r0 = &moved[slot]
        insn(JEQ_K, 0, 0, PASS - 17, 0),     // 16
        insn(LDX_W, 1, 6, 0, 0),             // 17: r1 = skb->len
        insn(JEQ_K, 1, 0, DROP - 19, 0),     // 18: no data (a FIN): drop it, see DROP
        insn(ATOMIC_DW, 0, 1, 0, FETCH_ADD), // 19: r1 = fetch_add(moved[slot], len)
        insn(RSH64_K, 1, 0, 0, 63),          // 20: r1 = the off bit
        insn(JNE_K, 1, 0, PASS - 22, 0),     // 21: switched off: pass
        insn(MOV64_X, 1, 6, 0, 0),           // 22: r1 = skb
    ]);
    p.extend(map(2, peers)); // 23-24: r2 = peers
    p.extend([
        insn(MOV64_X, 3, 10, 0, 0),            // 25
        insn(ADD64_K, 3, 0, 0, -8),            // 26: r3 = &cookie
        insn(MOV64_K, 4, 0, 0, 0),             // 27: r4 = 0: the peer's send path
        insn(CALL, 0, 0, 0, SK_REDIRECT_HASH), // 28
        insn(MOV64_K, 0, 0, 0, 1), // 29 (PASS): r0 = SK_PASS (a redirect if one was set)
        insn(EXIT, 0, 0, 0, 0),    // 30
        // DROP: an empty segment (the FIN) must not reach a psock queue: the kernel sends or
        // delivers what it queues and takes zero bytes done for a broken pipe, which stops
        // all forwarding on that socket. The end of the stream is not lost: TCP has already
        // marked the socket shut for reading, and `read` returns 0.
        insn(MOV64_K, 0, 0, 0, 0), // 31 (DROP): r0 = SK_DROP
        insn(EXIT, 0, 0, 0, 0),    // 32
    ]);
    debug_assert_eq!(p.len(), 33);
    p
}

/// `bpf(2)` with an attribute block of 16 words (larger than every command used).
fn bpf(cmd: libc::c_int, attr: &mut [u64; 16]) -> io::Result<libc::c_long> {
    // SAFETY: the kernel reads (and for some commands writes) at most `size` bytes of `attr`,
    // which is a live, writable 128-byte buffer; unused fields are zero as required.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            std::mem::size_of_val(attr),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Packs 32-bit fields into attribute words, low half first.
fn words(fields: &[u32]) -> [u64; 16] {
    let mut attr = [0u64; 16];
    for (i, f) in fields.iter().enumerate() {
        attr[i / 2] |= u64::from(*f) << (32 * (i % 2));
    }
    attr
}

fn create_map(kind: u32, key: u32, value: u32, entries: u32, flags: u32) -> io::Result<OwnedFd> {
    let fd = bpf(
        BPF_MAP_CREATE,
        &mut words(&[kind, key, value, entries, flags]),
    )?;
    // SAFETY: BPF_MAP_CREATE returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn update<K, V>(map: &OwnedFd, key: &K, value: &V) -> io::Result<()> {
    let mut attr = [0u64; 16];
    attr[0] = map.as_raw_fd() as u64;
    attr[1] = std::ptr::from_ref(key) as u64;
    attr[2] = std::ptr::from_ref(value) as u64;
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(drop)
}

fn delete<K>(map: &OwnedFd, key: &K) {
    let mut attr = [0u64; 16];
    attr[0] = map.as_raw_fd() as u64;
    attr[1] = std::ptr::from_ref(key) as u64;
    // A missing key (a socket the kernel already unlinked on close) is fine.
    let _ = bpf(BPF_MAP_DELETE_ELEM, &mut attr);
}

fn cookie(fd: RawFd) -> io::Result<u64> {
    let mut value = 0u64;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: SO_COOKIE writes one u64 into the buffer whose size is passed in `len`.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_COOKIE,
            std::ptr::from_mut(&mut value).cast(),
            &mut len,
        )
    };
    if r == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The send buffer each socket on the fast path gets (the kernel doubles it for its own
/// bookkeeping, as for `SO_SNDBUF`).
const SEND_BUFFER: libc::c_int = 4 * 1024 * 1024;

/// Gives a socket on the fast path room for `SEND_BUFFER` bytes on its send queue.
///
/// The kernel forwards a redirected segment from a work queue; when the peer's send queue is
/// full it retries one scheduler tick later (4 ms at HZ=250, `sk_psock_backlog` in
/// `net/core/skmsg.c`), and the receiver idles meanwhile. Auto-tuning sizes the send buffer
/// for what the socket's owner writes, not for that retry, so the queue fills often under
/// bulk data. With 8 MiB of room it rarely does: on the 2-core benchmark machine a bulk
/// transfer on the fast path went from 0.6–0.7x to 0.8–0.95x of a bare splice forwarder, and
/// used a quarter less CPU per byte. The buffer only holds what the receiver has not taken
/// yet, so light connections use no more memory. `SO_SNDBUFFORCE` because the fast path
/// runs as root anyway and `net.core.wmem_max` (often 4 MiB or less) would cap `SO_SNDBUF`;
/// a refusal leaves the auto-tuned buffer, which still works, only slower.
fn widen_send_buffer(fd: RawFd) {
    let size = SEND_BUFFER;
    // SAFETY: `fd` is an open socket; the option value is an int of the given length.
    let done = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if done != 0 {
        tracing::debug!(err = %io::Error::last_os_error(), "could not widen a fast-path send buffer");
    }
}

/// Bytes this socket has put on its stream so far (acknowledged plus still queued; read in
/// that order, an acknowledgement arriving in between can only make the figure smaller), and
/// its TCP state.
fn send_progress(fd: RawFd) -> io::Result<(u64, u8)> {
    // `tcpi_bytes_acked` sits at byte 120 of `struct tcp_info` (Linux 4.1 and later), the
    // state at byte 0.
    const BYTES_ACKED: usize = 120;
    let mut info = [0u8; 256];
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: TCP_INFO writes at most `len` bytes into `info`.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    if (len as usize) < BYTES_ACKED + 8 {
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    }
    let mut acked = [0u8; 8];
    acked.copy_from_slice(&info[BYTES_ACKED..BYTES_ACKED + 8]);
    let mut unacked: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int: the bytes in the send queue.
    if unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut unacked) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let queued = u64::from_ne_bytes(acked) + u64::try_from(unacked).unwrap_or(0);
    Ok((queued, info[0]))
}

/// The maps and the attached program; one per proxy server, shared by its links.
pub(crate) struct Redirector {
    slots: OwnedFd,
    peers: OwnedFd,
    _moved: OwnedFd,
    _program: OwnedFd,
    /// The `moved` array, mapped: one counter per socket in the fast path.
    counters: NonNull<AtomicU64>,
    mapped: usize,
    /// Free counter indices, in pairs (2k, 2k+1); the longest free is reused first.
    free: Mutex<VecDeque<u32>>,
}

// SAFETY: `counters` points into a shared mapping that lives as long as the Redirector and is
// only accessed through atomics.
unsafe impl Send for Redirector {}
// SAFETY: as above.
unsafe impl Sync for Redirector {}

impl std::fmt::Debug for Redirector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redirector").finish_non_exhaustive()
    }
}

impl Redirector {
    /// Creates the maps and loads and attaches the program. Fails without the privileges.
    pub(crate) fn new() -> io::Result<Redirector> {
        let sockets = 2 * CONNECTIONS;
        let slots = create_map(MAP_HASH, 8, 4, sockets, 0)?;
        let moved = create_map(MAP_ARRAY, 4, 8, sockets, MAP_F_MMAPABLE)?;
        let peers = create_map(MAP_SOCKHASH, 8, 4, sockets, 0)?;
        let insns = program(slots.as_raw_fd(), moved.as_raw_fd(), peers.as_raw_fd());
        let license = c"GPL";
        let mut attr = [0u64; 16];
        attr[0] = u64::from(PROG_SK_SKB) | ((insns.len() as u64) << 32);
        attr[1] = insns.as_ptr() as u64;
        attr[2] = license.as_ptr() as u64;
        let fd = bpf(BPF_PROG_LOAD, &mut attr)?;
        // SAFETY: BPF_PROG_LOAD returned a new descriptor that nothing else owns.
        let program = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        bpf(
            BPF_PROG_ATTACH,
            &mut words(&[
                peers.as_raw_fd() as u32,
                program.as_raw_fd() as u32,
                ATTACH_SK_SKB_STREAM_VERDICT,
            ]),
        )?;
        let mapped = (sockets as usize * 8).next_multiple_of(4096);
        // SAFETY: an mmapable array map can be mapped shared, read-write, from offset 0 for
        // its size; the mapping stays valid until munmap in Drop.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                moved.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let counters = NonNull::new(ptr.cast::<AtomicU64>())
            .ok_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable))?;
        Ok(Redirector {
            slots,
            peers,
            _moved: moved,
            _program: program,
            counters,
            mapped,
            free: Mutex::new((0..CONNECTIONS).map(|k| 2 * k).collect()),
        })
    }

    fn counter(&self, slot: u32) -> &AtomicU64 {
        debug_assert!(slot < 2 * CONNECTIONS);
        // SAFETY: `slot` is below the array's length, so the pointer is inside the mapping.
        unsafe { &*self.counters.as_ptr().add(slot as usize) }
    }

    /// Puts a connection's two sockets in the fast path: what arrives on `client` goes out on
    /// `upstream` and the other way round. `None` when the fast path is full or refuses them.
    pub(crate) fn attach(self: &Arc<Self>, client: RawFd, upstream: RawFd) -> Option<Redirected> {
        let pair = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()?;
        let mut redirected = Redirected {
            owner: Arc::clone(self),
            slots: [pair, pair + 1],
            cookies: [0, 0],
            phase: Mutex::new(Phase::default()),
        };
        match redirected.link(client, upstream) {
            Ok(()) => Some(redirected),
            Err(err) => {
                tracing::debug!(%err, "kernel redirect refused a connection; forwarding in user space");
                None
            }
        }
    }
}

impl Drop for Redirector {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `new` with this address and length.
        unsafe { libc::munmap(self.counters.as_ptr().cast(), self.mapped) };
    }
}

/// One connection in the fast path; index 0 is the client's socket (what it receives goes
/// upstream), 1 the upstream's. Keep it until both sockets are closed.
#[derive(Debug)]
pub(crate) struct Redirected {
    owner: Arc<Redirector>,
    slots: [u32; 2],
    cookies: [u64; 2],
    phase: Mutex<Phase>,
}

#[derive(Debug, Default)]
struct Phase {
    /// `send_progress` of the peers [upstream, client] when forwarding started.
    base: [u64; 2],
    /// What each socket had redirected when it was switched off; `None` while forwarding.
    stopped: Option<[u64; 2]>,
    /// Which sockets `switch_on` turned on (a socket that never was redirected nothing).
    on: [bool; 2],
}

impl Redirected {
    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn link(&mut self, client: RawFd, upstream: RawFd) -> io::Result<()> {
        for (i, fd) in [client, upstream].into_iter().enumerate() {
            self.cookies[i] = cookie(fd)?;
        }
        self.start();
        for fd in [client, upstream] {
            widen_send_buffer(fd);
        }
        let map = &self.owner;
        // Inserting a socket attaches the verdict program to it; until `switch_on`, what it
        // receives stays on it.
        update(&map.peers, &self.cookies[0], &(upstream as u32))?;
        update(&map.peers, &self.cookies[1], &(client as u32))?;
        update(&map.slots, &self.cookies[0], &self.slots[0])?;
        update(&map.slots, &self.cookies[1], &self.slots[1])?;
        Ok(())
    }

    /// Keeps both sockets switched off until `switch_on`, which records where each peer's
    /// stream stands when its socket is switched on.
    fn start(&self) {
        let mut phase = self.phase();
        *phase = Phase::default();
        for slot in self.slots {
            self.owner.counter(slot).store(OFF, Ordering::Release);
        }
    }

    /// Switches forwarding on for each socket not on yet, only at a moment when nothing
    /// waits on it for `read`: its counter is swapped from the value seen with the socket
    /// empty to 0, so a segment that arrived in between (and was left on the socket) makes
    /// the swap fail. `false` when a socket stays off (it has data, its end or an error for
    /// `read`, or `stop` was called): nothing that came after what it holds was forwarded
    /// past it, so user space can forward that and try again.
    pub(crate) fn switch_on(&self, client: RawFd, upstream: RawFd) -> bool {
        let mut phase = self.phase();
        if phase.stopped.is_some() {
            return false;
        }
        for (i, (fd, peer)) in [(client, upstream), (upstream, client)]
            .into_iter()
            .enumerate()
        {
            if phase.on[i] {
                continue;
            }
            let counter = self.owner.counter(self.slots[i]);
            let seen = counter.load(Ordering::Acquire);
            if has_something_to_read(fd) {
                return false;
            }
            // User space wrote to the peer until now; the kernel's bytes start here.
            let Ok((base, _)) = send_progress(peer) else {
                return false;
            };
            if counter
                .compare_exchange(seen, 0, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                return false;
            }
            phase.base[i] = base;
            phase.on[i] = true;
        }
        true
    }

    /// Whether `stop` was called.
    pub(crate) fn stopped(&self) -> bool {
        self.phase().stopped.is_some()
    }

    /// Whether everything redirected before `stop` is on the peers' send queues, each way:
    /// then user space can write behind it. A peer that closed counts as delivered.
    pub(crate) fn delivered(&self, client: RawFd, upstream: RawFd) -> io::Result<[bool; 2]> {
        let moved = self.moved();
        let base = self.phase().base;
        let mut done = [false; 2];
        for (i, fd) in [upstream, client].into_iter().enumerate() {
            let (queued, state) = send_progress(fd)?;
            done[i] = state == TCP_CLOSE || queued.saturating_sub(base[i]) >= moved[i];
        }
        Ok(done)
    }

    /// Bytes redirected so far, [client → upstream, upstream → client].
    pub(crate) fn moved(&self) -> [u64; 2] {
        let phase = self.phase();
        match phase.stopped {
            Some(moved) => moved,
            None => [0, 1].map(|i| {
                let count = self.owner.counter(self.slots[i]).load(Ordering::Acquire) & !OFF;
                if phase.on[i] { count } else { 0 }
            }),
        }
    }

    /// Switches both sockets off: from now on what they receive stays on them, in order,
    /// for `read`. Returns what was redirected each way, the same on every call.
    pub(crate) fn stop(&self) -> [u64; 2] {
        let mut phase = self.phase();
        let on = phase.on;
        *phase.stopped.get_or_insert_with(|| {
            [0, 1].map(|i| {
                let count = self
                    .owner
                    .counter(self.slots[i])
                    .fetch_or(OFF, Ordering::AcqRel);
                if on[i] { count & !OFF } else { 0 }
            })
        })
    }
}

impl Drop for Redirected {
    /// Switches the sockets off and forgets their counters. Their `peers` entries are left to
    /// the kernel, which removes a socket from the map when it closes: removing it earlier
    /// would drop what is still queued for `read` on it.
    fn drop(&mut self) {
        self.stop();
        let map = &self.owner;
        for cookie in self.cookies.iter().filter(|c| **c != 0) {
            delete(&map.slots, cookie);
        }
        map.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(self.slots[0]);
    }
}

/// Whether a server's links may use the fast path, and the `Redirector` once one was made.
#[derive(Debug)]
pub(crate) struct KernelRedirect {
    enabled: AtomicBool,
    redirector: OnceLock<Option<Arc<Redirector>>>,
}

impl KernelRedirect {
    /// On unless `PFI_KERNEL_REDIRECT` is `0`, `off`, `false` or `no`. Connections go in
    /// the fast path only when their first moments are light (see `tcp_handler`): there it
    /// halves the latency the proxy adds, while bulk connections stay on splice(2), which
    /// moves them faster (see the proxy benchmark).
    pub(crate) fn from_env() -> Self {
        let off = std::env::var("PFI_KERNEL_REDIRECT").is_ok_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "0" | "off" | "false" | "no"
            )
        });
        let on = !off;
        KernelRedirect {
            enabled: AtomicBool::new(on),
            redirector: OnceLock::new(),
        }
    }

    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// The redirector for a new connection, if the fast path is on and this machine allows it
    /// (made on first use; a refusal is logged once).
    pub(crate) fn get(&self) -> Option<Arc<Redirector>> {
        if !self.enabled.load(Ordering::Relaxed) {
            return None;
        }
        self.redirector
            .get_or_init(|| match Redirector::new() {
                Ok(r) => Some(Arc::new(r)),
                Err(err) => {
                    tracing::debug!(%err, "in-kernel forwarding is not available (it needs CAP_BPF and CAP_NET_ADMIN); links forward in user space");
                    None
                }
            })
            .clone()
    }
}

/// Whether `read` on the socket would return something now (data, its end, an error).
pub(crate) fn has_something_to_read(fd: RawFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: one writable byte is passed; MSG_PEEK leaves it on the socket.
    let n = unsafe {
        libc::recv(
            fd,
            std::ptr::from_mut(&mut byte).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock
}

/// Whether the epoll descriptor from `watch` has an event now.
pub(crate) fn pending(epoll: RawFd) -> bool {
    let mut event = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: room for one event is passed; a zero timeout never blocks.
    let n = unsafe { libc::epoll_wait(epoll, &mut event, 1, 0) };
    // An interrupted look counts as an event: the caller leaves the fast path, which is safe.
    n != 0
}

/// An epoll descriptor that becomes readable when either socket gets the end of its
/// peer's stream, an error or a hang-up: the moments a connection must leave the fast path.
/// (Not plain data: while a segment waits for the verdict the socket looks readable for a
/// moment, and that is no reason to leave.) Level-triggered, so nothing that happened before
/// it was made is missed.
pub(crate) fn watch(client: RawFd, upstream: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: epoll_create1 has no memory arguments.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor that nothing else owns.
    let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
    for socket in [client, upstream] {
        let mut event = libc::epoll_event {
            events: libc::EPOLLRDHUP as u32,
            u64: socket as u64,
        };
        // SAFETY: `event` is a valid epoll_event for the duration of the call.
        if unsafe { libc::epoll_ctl(fd, libc::EPOLL_CTL_ADD, socket, &mut event) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(epoll)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn send_buffer(fd: RawFd) -> libc::c_int {
        let mut size: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `fd` is an open socket; `size` and `len` are valid for writes.
        let got = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&mut size as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(got, 0, "getsockopt: {}", io::Error::last_os_error());
        size
    }

    #[test]
    fn sockets_on_the_fast_path_get_a_send_buffer_that_outlasts_the_kernels_retry() {
        let Ok(redirector) = Redirector::new().map(Arc::new) else {
            eprintln!("skipped: in-kernel forwarding needs CAP_BPF and CAP_NET_ADMIN");
            return;
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (upstream, _) = listener.accept().expect("accept");
        let fds = [client.as_raw_fd(), upstream.as_raw_fd()];
        for fd in fds {
            assert!(
                send_buffer(fd) < 2 * SEND_BUFFER,
                "already as wide before the fast path"
            );
        }
        let redirected = redirector.attach(fds[0], fds[1]).expect("attached");
        for fd in fds {
            // The kernel doubles what it is given (room for its own bookkeeping).
            assert_eq!(send_buffer(fd), 2 * SEND_BUFFER);
        }
        drop(redirected);
    }
}
