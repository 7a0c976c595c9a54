//! The testnet's delay line. The kernel here has no netem, so one-way delay
//! and jitter are made in user space: an iptables rule sends the packets a
//! node sent to an NFQUEUE queue as they arrive (after the loopback device,
//! so the sender's socket buffer is already free), and this program, bound
//! to that queue, holds each packet for the delay (plus jitter) before it
//! accepts it. Only packet metadata is copied to us (NFQNL_COPY_META), GSO
//! packets stay whole, and packets leave in the order they came (jitter never
//! reorders), so its cost is one netlink message per packet and one batch
//! verdict per release. Loss and rate are the kernel's (iptables, HTB).
//!
//! Usage: veilid-testnet-delay-line --queue N [--delay-us D] [--jitter-us J] [--seed S]
//! Prints "ready" once the queue is bound; exits when its standard input
//! closes (its parent went) or its parent dies.
use std::collections::VecDeque;
use std::io::{self, Write};
use std::time::{Duration, Instant};

const NETLINK_NETFILTER: libc::c_int = 12;
const SOL_NETLINK: libc::c_int = 270;
const NETLINK_NO_ENOBUFS: libc::c_int = 5;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NFNL_SUBSYS_QUEUE: u16 = 3;
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_CONFIG: u16 = 2;
const NFQNL_MSG_VERDICT_BATCH: u16 = 3;
const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
const NFQA_CFG_QUEUE_MAXLEN: u16 = 3;
const NFQA_CFG_MASK: u16 = 4;
const NFQA_CFG_FLAGS: u16 = 5;
const NFQNL_CFG_CMD_BIND: u8 = 1;
const NFQNL_COPY_META: u8 = 1;
const NFQA_CFG_F_GSO: u32 = 4;
const NF_ACCEPT: u32 = 1;
/// Packets the kernel keeps for us before it drops new ones (1,024 by default):
/// at 150 ms and tens of MB/s far more are in flight.
const QUEUE_MAXLEN: u32 = 200_000;
const RECEIVE_BUFFER: libc::c_int = 32 << 20;
/// Packets due this soon are released with the ones due now: fewer verdicts at high
/// packet rates, 0.1 ms early at most.
const RELEASE_SLACK: Duration = Duration::from_micros(100);

struct Options {
    queue: u16,
    delay: Duration,
    jitter_us: u64,
    seed: u64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        queue: 0,
        delay: Duration::ZERO,
        jitter_us: 0,
        seed: 0,
    };
    let mut queue = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "--queue" => {
                queue = Some(u16::try_from(number()?).map_err(|_| "--queue: 0..65535".to_string())?)
            }
            "--delay-us" => options.delay = Duration::from_micros(number()?),
            "--jitter-us" => options.jitter_us = number()?,
            "--seed" => options.seed = number()?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    options.queue = queue.ok_or("--queue is required")?;
    Ok(options)
}

/// xorshift64*: enough for jitter, and reproducible from a seed.
struct Random(u64);
impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// One nfnetlink message to the queue subsystem, built attribute by attribute.
struct Message(Vec<u8>);
impl Message {
    fn new(kind: u16, flags: u16, seq: u32, queue: u16) -> Message {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, set by finish()
        buf.extend_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | kind).to_ne_bytes());
        buf.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid
        buf.push(libc::AF_UNSPEC as u8); // nfgen_family
        buf.push(0); // NFNETLINK_V0
        buf.extend_from_slice(&queue.to_be_bytes()); // res_id
        Message(buf)
    }
    fn attr(mut self, kind: u16, payload: &[u8]) -> Message {
        self.0
            .extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(payload);
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0);
        }
        self
    }
    fn finish(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[0..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

fn verdict_payload(verdict: u32, id: u32) -> [u8; 8] {
    let mut payload = [0u8; 8];
    payload[0..4].copy_from_slice(&verdict.to_be_bytes());
    payload[4..8].copy_from_slice(&id.to_be_bytes());
    payload
}

struct Socket(libc::c_int);
impl Socket {
    fn open() -> io::Result<Socket> {
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_NETFILTER,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let socket = Socket(fd);
        let mut address: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        address.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let bound = unsafe {
            libc::bind(
                fd,
                &address as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if bound < 0 {
            return Err(io::Error::last_os_error());
        }
        // Best effort: a full buffer only means dropped packets (loss), never stuck ones.
        socket.set_option(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RECEIVE_BUFFER);
        socket.set_option(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1);
        Ok(socket)
    }
    fn set_option(&self, level: libc::c_int, name: libc::c_int, value: libc::c_int) {
        unsafe {
            libc::setsockopt(
                self.0,
                level,
                name,
                &value as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    fn send(&self, message: &[u8]) -> io::Result<()> {
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        loop {
            let sent = unsafe {
                libc::sendto(
                    self.0,
                    message.as_ptr() as *const libc::c_void,
                    message.len(),
                    0,
                    &kernel as *const libc::sockaddr_nl as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if sent >= 0 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
    /// One datagram, or None when nothing is waiting.
    fn receive(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let received = unsafe {
            libc::recv(
                self.0,
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if received >= 0 {
            return Ok(Some(received as usize));
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
            // Notifications were lost (their packets were dropped by the kernel): go on.
            Some(libc::ENOBUFS) => Ok(None),
            _ => Err(error),
        }
    }
}

/// Netlink messages in one datagram: (type, payload after the nlmsghdr).
fn messages(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut offset = 0;
    std::iter::from_fn(move || {
        if offset + 16 > buf.len() {
            return None;
        }
        let len = u32::from_ne_bytes(buf[offset..offset + 4].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(buf[offset + 4..offset + 6].try_into().ok()?);
        if len < 16 || offset + len > buf.len() {
            return None;
        }
        let payload = &buf[offset + 16..offset + len];
        offset += (len + 3) & !3;
        Some((kind, payload))
    })
}

/// The packet id in an NFQNL_MSG_PACKET payload (after its nfgenmsg).
fn packet_id(payload: &[u8]) -> Option<u32> {
    let mut offset = 4;
    while offset + 4 <= payload.len() {
        let len = u16::from_ne_bytes(payload[offset..offset + 2].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(payload[offset + 2..offset + 4].try_into().ok()?) & 0x3fff;
        if len < 4 || offset + len > payload.len() {
            return None;
        }
        if kind == NFQA_PACKET_HDR && len >= 8 {
            return Some(u32::from_be_bytes(
                payload[offset + 4..offset + 8].try_into().ok()?,
            ));
        }
        offset += (len + 3) & !3;
    }
    None
}

fn configure(socket: &Socket, queue: u16) -> io::Result<()> {
    let mut params = [0u8; 5];
    params[4] = NFQNL_COPY_META; // copy_range (first 4 bytes) is 0: no payload
    let requests = [
        Message::new(NFQNL_MSG_CONFIG, NLM_F_ACK, 1, queue)
            .attr(NFQA_CFG_CMD, &[NFQNL_CFG_CMD_BIND, 0, 0, 0])
            .finish(),
        Message::new(NFQNL_MSG_CONFIG, NLM_F_ACK, 2, queue)
            .attr(NFQA_CFG_PARAMS, &params)
            .attr(NFQA_CFG_QUEUE_MAXLEN, &QUEUE_MAXLEN.to_be_bytes())
            .finish(),
        Message::new(NFQNL_MSG_CONFIG, NLM_F_ACK, 3, queue)
            .attr(NFQA_CFG_FLAGS, &NFQA_CFG_F_GSO.to_be_bytes())
            .attr(NFQA_CFG_MASK, &NFQA_CFG_F_GSO.to_be_bytes())
            .finish(),
    ];
    let mut buf = vec![0u8; 8192];
    for request in requests {
        socket.send(&request)?;
        loop {
            let mut fds = [libc::pollfd {
                fd: socket.0,
                events: libc::POLLIN,
                revents: 0,
            }];
            if unsafe { libc::poll(fds.as_mut_ptr(), 1, 2000) } == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no answer from nfnetlink",
                ));
            }
            let Some(len) = socket.receive(&mut buf)? else {
                continue;
            };
            let acked = messages(&buf[..len]).find(|(kind, _)| *kind == NLMSG_ERROR);
            if let Some((_, payload)) = acked {
                let code = i32::from_ne_bytes(payload[0..4].try_into().unwrap_or([0; 4]));
                if code != 0 {
                    return Err(io::Error::from_raw_os_error(-code));
                }
                break;
            }
        }
    }
    Ok(())
}

fn run(options: Options) -> io::Result<()> {
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // Release on time even on a busy machine: a real-time priority when allowed (root), else
    // the normal one. It sleeps between packets, so it cannot starve anything.
    let priority = libc::sched_param { sched_priority: 10 };
    unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &priority) };
    let socket = Socket::open()?;
    configure(&socket, options.queue).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot bind NFQUEUE {}: {error}", options.queue),
        )
    })?;
    println!("ready");
    io::stdout().flush()?;

    let seed = if options.seed != 0 {
        options.seed
    } else {
        std::process::id() as u64
    };
    let mut random = Random(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut held: VecDeque<(Instant, u32)> = VecDeque::new();
    let mut last_release = Instant::now();
    let mut buf = vec![0u8; 1 << 16];
    let mut seq = 10u32;
    let accept_all_from = |id: u32, seq: u32| {
        Message::new(NFQNL_MSG_VERDICT_BATCH, 0, seq, options.queue)
            .attr(NFQA_VERDICT_HDR, &verdict_payload(NF_ACCEPT, id))
            .finish()
    };
    loop {
        // Release what is due: one batch verdict accepts every held id up to the last due one.
        let now = Instant::now();
        let mut last_due = None;
        while let Some(&(at, id)) = held.front() {
            if at > now + RELEASE_SLACK {
                break;
            }
            last_due = Some(id);
            held.pop_front();
        }
        if let Some(id) = last_due {
            seq = seq.wrapping_add(1);
            socket.send(&accept_all_from(id, seq))?;
        }

        let timeout = held
            .front()
            .map(|&(at, _)| at.saturating_duration_since(now));
        let timespec = timeout.map(|wait| libc::timespec {
            tv_sec: wait.as_secs() as libc::time_t,
            tv_nsec: wait.subsec_nanos() as libc::c_long,
        });
        let mut fds = [
            libc::pollfd {
                fd: socket.0,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ready = unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                2,
                timespec
                    .as_ref()
                    .map_or(std::ptr::null(), |t| t as *const libc::timespec),
                std::ptr::null(),
            )
        };
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        if fds[1].revents != 0 {
            let mut byte = [0u8; 64];
            let read = unsafe { libc::read(0, byte.as_mut_ptr() as *mut libc::c_void, byte.len()) };
            if read <= 0 {
                return Ok(()); // the parent closed our standard input
            }
        }
        if fds[0].revents == 0 {
            continue;
        }
        while let Some(len) = socket.receive(&mut buf)? {
            let arrived = Instant::now();
            for (kind, payload) in messages(&buf[..len]) {
                if kind != (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET {
                    continue;
                }
                let Some(id) = packet_id(payload) else {
                    continue;
                };
                let mut at = arrived + options.delay;
                if options.jitter_us > 0 {
                    let offset = random.next() % (2 * options.jitter_us + 1);
                    at = if offset >= options.jitter_us {
                        at + Duration::from_micros(offset - options.jitter_us)
                    } else {
                        at.checked_sub(Duration::from_micros(options.jitter_us - offset))
                            .unwrap_or(arrived)
                            .max(arrived)
                    };
                }
                // Never before an earlier packet: a link delays, it does not reorder.
                at = at.max(last_release);
                last_release = at;
                held.push_back((at, id));
            }
        }
    }
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("veilid-testnet-delay-line: {message}");
            std::process::exit(2);
        }
    };
    if let Err(error) = run(options) {
        eprintln!("veilid-testnet-delay-line: {error}");
        std::process::exit(1);
    }
}
