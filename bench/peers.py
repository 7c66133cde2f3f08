"""Other relays the fan-out table can measure mcferry against, in the same run.

socat comes from the system; msd_lite and udpxy are optional binaries given
by path (MSD_LITE=..., UDPXY=...). None of their code is in this project:
this file only knows how to start them. msd_lite and udpxy serve HTTP
(`GET /udp/GROUP:PORT`), so their clients are `mcrecv tcp --http PATH`.

A peer is a row of PEERS: how to start it listening on TCP port `tport`
and relaying GROUP:UPORT joined on interface `ifname`, whether its clients
speak HTTP, whether it forks a process per client (then its CPU and RSS
are the process tree's, and the harness waits for one child per client).
"""

import os

MSD_LITE_CONF = """<?xml version="1.0" encoding="utf-8"?>
<!-- written by mcferry's bench/peers.py: the values of msd_lite's sample
     conf (ring 1024 KiB, sndBuf 512 KiB, no slow-client drop); only the
     bind address, the multicast interface and rcvTimeout differ. The layout
     is kept as in the sample: msd_lite 1.11's XML reader can spin on
     compact one-line lists. -->
<msd>
	<log>
		<level>6</level>
	</log>

	<threadPool>
		<threadsCountMax>1</threadsCountMax>
		<fBindToCPU>yes</fBindToCPU>
	</threadPool>

	<HTTP>
		<bindList>
			<bind><address>{bind}</address><fAcceptFilter>y</fAcceptFilter></bind>
		</bindList>

		<hostnameList>
			<hostname>*</hostname>
		</hostnameList>
	</HTTP>

	<hubProfileList>
		<hubProfile>
			<fDropSlowClients>no</fDropSlowClients>
			<fSocketHalfClosed>no</fSocketHalfClosed>
			<fSocketTCPNoDelay>yes</fSocketTCPNoDelay>
			<fSocketTCPNoPush>yes</fSocketTCPNoPush>
			<precache>4096</precache>
			<ringBufSize>1024</ringBufSize>
			<skt>
				<sndBuf>512</sndBuf>
				<sndLoWatermark>64</sndLoWatermark>
				<congestionControl>htcp</congestionControl>
			</skt>
			<headersList>
				<header>Pragma: no-cache</header>
				<header>Content-Type: video/mpeg</header>
			</headersList>
		</hubProfile>
	</hubProfileList>

	<sourceProfileList>
		<sourceProfile>
			<skt>
				<rcvBuf>512</rcvBuf>
				<rcvLoWatermark>48</rcvLoWatermark>
				<rcvTimeout>{rcv_timeout}</rcvTimeout>
			</skt>
			<multicast>
				<ifName>{ifname}</ifName>
				<rejoinTime>0</rejoinTime>
			</multicast>
		</sourceProfile>
	</sourceProfileList>
</msd>
"""


def msd_lite_conf_write(path, bind, ifname, rcv_timeout):
    """Write an msd_lite config to PATH. rcvTimeout (the sample has 2 s)
    tears a channel down, answering 503, when its group is silent that long
    after the first client came; the benchmark's clients connect before the
    source sends, so the caller passes more than the wait before sending."""
    with open(path, "w") as f:
        f.write(MSD_LITE_CONF.format(bind=bind, ifname=ifname,
                                     rcv_timeout=int(rcv_timeout)))


def _socat(binary, tport, group, uport, ifname, logdir, clients):
    # -d: warnings only (-d -d logs every datagram, which costs socat CPU).
    # fork: one child per accepted client, each with its own UDP socket
    # joined to the group (the kernel hands every datagram to every socket
    # bound to the port), so N clients cost N processes.
    return [binary, "-d", "-U",
            "TCP4-LISTEN:%d,reuseaddr,fork,backlog=1024" % tport,
            "UDP4-RECV:%d,ip-add-membership=%s:%s,reuseaddr"
            % (uport, group, ifname)]


def _msd_lite(binary, tport, group, uport, ifname, logdir, clients):
    conf = os.path.join(logdir, "msd_lite.conf")
    msd_lite_conf_write(conf, "0.0.0.0:%d" % tport, ifname, rcv_timeout=60)
    return [binary, "-c", conf]


def _udpxy(binary, tport, group, uport, ifname, logdir, clients):
    # -T: stay in the foreground; -c: udpxy refuses clients beyond it.
    return [binary, "-T", "-p", str(tport), "-m", ifname,
            "-c", str(max(clients, 3))]


# name -> env: the variable naming its binary (None: found on PATH);
# argv: how to start it; http: its clients speak HTTP; forks: a process
# per client; ts: it drops datagrams that do not start with the MPEG-TS sync
# byte (so mcsend runs with --ts); most: the most clients it takes.
PEERS = {
    "socat": dict(env=None, argv=_socat, http=False, forks=True, ts=False,
                  most=100000),
    "msd_lite": dict(env="MSD_LITE", argv=_msd_lite, http=True, forks=False,
                     ts=True, most=100000),
    "udpxy": dict(env="UDPXY", argv=_udpxy, http=True, forks=True, ts=False,
                  most=5000),
}


def peer_argv(kind, binary, **kw):
    return PEERS[kind]["argv"](binary, **kw)
