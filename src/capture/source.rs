//! Where frames come from: the trait the capture thread reads (a test double replays frames),
//! its AF_PACKET implementation through pnet, and the route from an address to the interface
//! that carries it.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::time::Duration;

use pnet_datalink::{Channel, DataLinkReceiver, NetworkInterface};
use socket2::{Domain, Protocol, Socket, Type};

use crate::capture::frame::LinkType;

/// How long one blocking read waits before it reports an idle tick.
pub const READ_TIMEOUT: Duration = Duration::from_millis(100);

/// Bytes one read may return: veth hands over segmentation-offload frames of up to 64 KiB,
/// which a smaller buffer (pnet's default is 4 KiB) silently cuts.
pub const READ_BUFFER: usize = 256 * 1024;

/// The receive buffer asked of the kernel, so a burst does not overflow it at once.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// A stream of frames from one interface.
pub trait FrameSource: Send {
    /// What the frames begin with.
    fn link(&self) -> LinkType;

    /// The next frame; `Ok(None)` when the read timeout passed with nothing (an idle tick).
    fn next_frame(&mut self) -> io::Result<Option<&[u8]>>;

    /// Frames the kernel dropped for want of buffer space, when it says.
    fn kernel_drops(&mut self) -> Option<u64> {
        None
    }
}

/// An interface that carries traffic to some address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Its name (`eth0`, `ens5`).
    pub name: String,
    /// It is the loopback interface.
    pub loopback: bool,
}

/// Opens frame sources and finds routes: the seam a test replaces.
pub trait Sources: Send + Sync {
    /// The interface the route to `address` leaves through.
    fn interface_for(&self, address: IpAddr) -> Result<Interface, String>;

    /// Opens a capture on `interface`.
    fn open(&self, interface: &Interface) -> io::Result<Box<dyn FrameSource>>;
}

/// The real host: routes by the kernel's source-address choice, frames from AF_PACKET.
pub struct SystemSources;

impl Sources for SystemSources {
    fn interface_for(&self, address: IpAddr) -> Result<Interface, String> {
        // Connecting a UDP socket sends nothing; it makes the kernel pick the route and with it
        // the source address, which names the interface.
        let unspecified: IpAddr = match address {
            IpAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
            IpAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
        };
        let socket = UdpSocket::bind(SocketAddr::new(unspecified, 0))
            .map_err(|err| format!("no socket for the route to {address}: {err}"))?;
        socket
            .connect(SocketAddr::new(address, 443))
            .map_err(|err| format!("no route to {address}: {err}"))?;
        let local = socket
            .local_addr()
            .map_err(|err| format!("no route to {address}: {err}"))?
            .ip();
        let interface = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.ips.iter().any(|net| net.ip() == local))
            .ok_or_else(|| format!("no interface holds {local}, the source towards {address}"))?;
        Ok(Interface {
            loopback: interface.is_loopback(),
            name: interface.name,
        })
    }

    fn open(&self, interface: &Interface) -> io::Result<Box<dyn FrameSource>> {
        let found = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == interface.name)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "interface is gone"))?;
        Ok(Box::new(PacketSource::open(&found)?))
    }
}

/// Frames from an AF_PACKET socket through pnet: not promiscuous, a read timeout, a large
/// read buffer, and a kernel receive buffer of its own.
pub struct PacketSource {
    receiver: Box<dyn DataLinkReceiver>,
    link: LinkType,
    /// A second descriptor of the same socket, to read the kernel's drop count.
    statistics: Option<Socket>,
}

impl PacketSource {
    /// Opens the capture on `interface`; needs `CAP_NET_RAW`.
    pub fn open(interface: &NetworkInterface) -> io::Result<PacketSource> {
        let all = (libc::ETH_P_ALL as u16).to_be();
        let socket = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from(all))),
        )?;
        if let Err(err) = socket.set_recv_buffer_size(SOCKET_BUFFER) {
            tracing::warn!(interface = %interface.name, %err, "capture buffer not enlarged");
        }
        let statistics = socket.try_clone().ok();

        let config = pnet_datalink::Config {
            read_buffer_size: READ_BUFFER,
            read_timeout: Some(READ_TIMEOUT),
            promiscuous: false,
            socket_fd: Some(socket.into_raw_fd()),
            ..pnet_datalink::Config::default()
        };
        let receiver = match pnet_datalink::channel(interface, config)? {
            Channel::Ethernet(_, receiver) => receiver,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "not an Ethernet-like channel",
                ));
            }
        };
        let link = if interface.is_loopback() || interface.mac.is_some_and(|m| !m.is_zero()) {
            LinkType::Ethernet
        } else {
            LinkType::RawIp
        };
        let mut source = PacketSource {
            receiver,
            link,
            statistics,
        };
        // Frames from before the socket was bound to the interface are not ours to count.
        let _ = source.kernel_drops();
        Ok(source)
    }
}

impl FrameSource for PacketSource {
    fn link(&self) -> LinkType {
        self.link
    }

    fn next_frame(&mut self) -> io::Result<Option<&[u8]>> {
        match self.receiver.next() {
            Ok(frame) => Ok(Some(frame)),
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    fn kernel_drops(&mut self) -> Option<u64> {
        let socket = self.statistics.as_ref()?;
        packet_statistics(socket)
            .ok()
            .map(|(_, drops)| u64::from(drops))
    }
}

/// `PACKET_STATISTICS`: frames received and dropped since the last call (reading resets it).
#[expect(
    unsafe_code,
    reason = "PACKET_STATISTICS has no safe wrapper in socket2 or pnet"
)]
fn packet_statistics(socket: &Socket) -> io::Result<(u32, u32)> {
    let mut stats = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut length = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: `stats` and `length` are live, correctly sized out-parameters for this option, and
    // the descriptor stays open during the call because `socket` is borrowed.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut stats as *mut libc::tpacket_stats).cast(),
            &mut length,
        )
    };
    if rc == 0 {
        Ok((stats.tp_packets, stats.tp_drops))
    } else {
        Err(io::Error::last_os_error())
    }
}
