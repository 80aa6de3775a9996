#!/usr/bin/env python3
"""Bad input from the wire, crafted with scapy, against a linetcp server through its TAP.

Run inside the test's namespace: bad_input.py IFACE LINETCP_IP SYN_FLOOD_COUNT. Each case sends
crafted frames and checks linetcp's exact answer, or its silence. Silence is proved without
waiting on a clock: after the case a "barrier" SYN goes to a closed port, and linetcp (which
handles frames in order) answers it with RST; whatever the case would have drawn must have come
before that RST. Prints one line per case and, last, a JSON line with how many frames of each
kind were sent, for the shell to check linetcp's counters against.
"""
import json
import os
import select
import socket
import sys
import time

from scapy.all import ARP, Ether, IP, TCP, Raw, conf, get_if_hwaddr, raw, srp1  # noqa: E402

conf.verb = 0
IFACE, LT_IP, FLOOD = sys.argv[1], sys.argv[2], int(sys.argv[3])
MY_IP = [a for a in os.popen(f"ip -4 -o addr show dev {IFACE}").read().split() if "/" in a][0].split("/")[0]
MY_MAC = get_if_hwaddr(IFACE)
CLOSED_PORT = 81
SUBNET = LT_IP.rsplit(".", 1)[0]

sent = {"barriers": 0}


def count(kind, n=1):
    sent[kind] = sent.get(kind, 0) + n


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


ans = srp1(Ether(dst="ff:ff:ff:ff:ff:ff", src=MY_MAC) / ARP(op=1, psrc=MY_IP, pdst=LT_IP, hwsrc=MY_MAC),
           iface=IFACE, timeout=2, retry=3)
if ans is None:
    fail("no ARP answer from linetcp")
LT_MAC = ans[ARP].hwsrc

# One socket for everything: frames out, and linetcp's TCP frames in (BPF-filtered, so that the
# concurrent wrk run's traffic, on other ports, does not flood it).
sock = conf.L2socket(iface=IFACE, filter=f"tcp and src host {LT_IP} and dst host {MY_IP} and dst portrange 50000-59999")


def eth():
    return Ether(src=MY_MAC, dst=LT_MAC)


def send(frame):
    sock.send(frame if isinstance(frame, Ether) else eth() / frame)


def recv_until(pred, timeout=5.0):
    """Frames from linetcp until `pred` matches one (returned with the frames before it)."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, seen
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            continue
        p = sock.recv()
        if p is None or TCP not in p:
            continue
        if pred(p):
            return p, seen
        seen.append(p)


barrier_seq = 7_000_000


def barrier():
    """A SYN to a closed port; returns the frames linetcp sent before its RST."""
    global barrier_seq
    barrier_seq += 1000
    seq = barrier_seq
    send(IP(src=MY_IP, dst=LT_IP) / TCP(sport=59999, dport=CLOSED_PORT, seq=seq, flags="S"))
    count("barriers")
    rst, before = recv_until(lambda p: p[TCP].sport == CLOSED_PORT and p[TCP].dport == 59999
                             and p[TCP].ack == seq + 1)
    if rst is None:
        fail("barrier: no RST from the closed port within 5 s")
    # RFC 9293 §3.10.7.1: SYN to no connection -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    if rst[TCP].flags != "RA" or rst[TCP].seq != 0:
        fail(f"barrier: answer {rst[TCP].flags} seq {rst[TCP].seq}, want RST,ACK seq 0")
    return before


def silent(name, frames, ports):
    """Sends `frames` and proves linetcp answered none of them (nothing to `ports` before the barrier)."""
    for f in frames:
        send(f)
    before = barrier()
    replies = [p for p in before if p[TCP].dport in ports]
    if replies:
        fail(f"{name}: expected silence, got {replies[0].summary()}")
    print(f"ok   {name}: no answer", flush=True)


def syn(sport, **kw):
    return IP(src=MY_IP, dst=LT_IP) / TCP(sport=sport, dport=80, seq=1000 + sport, flags="S", **kw)


# --- checksums -----------------------------------------------------------------------------
# RFC9293 MUST-3 (the receiver checks the TCP checksum); RFC 1122 §3.2.1.2 (and the IP one).
f = eth() / syn(50001)
f = Ether(raw(f))
f[IP].chksum ^= 0x5a5a
silent("bad IPv4 header checksum", [f], {50001})
count("ipv4_bad_checksum")

f = Ether(raw(eth() / syn(50002)))
f[TCP].chksum ^= 0x5a5a
silent("bad TCP checksum (SYN)", [f], {50002})
count("tcp_bad_checksum")

# --- truncated and inconsistent headers ------------------------------------------------------
full = raw(eth() / syn(50003))
# The IPv4 header cut after 12 bytes (the frame ends there).
silent("IPv4 header truncated", [Ether(full[:14 + 12])], {50003})
count("ipv4_bad_header")
# IHL 4 (16 bytes): less than the minimum header.
b = bytearray(full)
b[14] = 0x44
silent("IPv4 IHL below 5", [Ether(bytes(b))], {50003})
count("ipv4_bad_header")
# Total length beyond the frame.
silent("IPv4 total length beyond the frame",
       [eth() / IP(src=MY_IP, dst=LT_IP, len=200) / TCP(sport=50003, dport=80, flags="S")], {50003})
count("ipv4_bad_header")
# A TCP header of 12 bytes (the IP total length says so): shorter than 20.
p = IP(src=MY_IP, dst=LT_IP, proto=6) / Raw(raw(TCP(sport=50004, dport=80, flags="S"))[:12])
silent("TCP header truncated to 12 bytes", [p], {50004})
count("tcp_bad_header")
# Data offset 15 (60 bytes) in a 20-byte segment: the header runs past the packet.
silent("TCP data offset beyond the packet", [IP(src=MY_IP, dst=LT_IP) / TCP(sport=50005, dport=80, flags="S", dataofs=15)],
       {50005})
count("tcp_bad_header")
# Data offset 4: less than the 20-byte minimum.
silent("TCP data offset below 5", [IP(src=MY_IP, dst=LT_IP) / TCP(sport=50006, dport=80, flags="S", dataofs=4)],
       {50006})
count("tcp_bad_header")

# --- illegal option lengths: RFC9293 MUST-7, what came before the bad option is used, the rest not
def tcp_checksum(seg):
    pseudo = socket.inet_aton(MY_IP) + socket.inet_aton(LT_IP) + bytes([0, 6]) + len(seg).to_bytes(2, "big")
    data = pseudo + seg + (b"\0" if len(seg) % 2 else b"")
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s & 0xFFFF).to_bytes(2, "big")


for sport, opts, want, name in [
    # SACK-permitted, then a window scale option of length 1 (illegal: < 2).
    (50007, b"\x04\x02\x01\x01" + b"\x03\x01\x07\x00", {"SAckOK"}, "window scale option of length 1"),
    # Window scale, then a timestamps option (length 10) that runs past the header.
    (50008, b"\x01\x03\x03\x07" + b"\x01\x01\x08\x0a", {"WScale"}, "timestamps option past the header"),
]:
    hdr = bytearray(raw(TCP(sport=sport, dport=80, seq=1000 + sport, flags="S", window=65535)))[:20]
    hdr[12] = (5 + len(opts) // 4) << 4
    seg = bytes(hdr) + opts
    seg = seg[:16] + tcp_checksum(seg[:16] + b"\0\0" + seg[18:]) + seg[18:]
    send(IP(src=MY_IP, dst=LT_IP, proto=6) / Raw(seg))
    count("tcp_bad_options")
    sa, _ = recv_until(lambda q: q[TCP].dport == sport)
    if sa is None or sa[TCP].flags != "SA" or sa[TCP].ack != 1000 + sport + 1:
        fail(f"{name}: want SYN-ACK acknowledging the SYN, got {sa.summary() if sa else 'nothing'}")
    # The SYN-ACK offers SACK, window scale and timestamps only as far as the SYN did.
    got = {o[0] for o in sa[TCP].options} & {"SAckOK", "WScale", "Timestamp"}
    if got != want:
        fail(f"{name}: SYN-ACK options {sorted(got)}, want {sorted(want)} (those before the bad one)")
    # Our kernel has no such connection and answers the SYN-ACK with RST, which closes it.
    print(f"ok   {name}: SYN-ACK with {sorted(want)} only (options before the bad one used)", flush=True)

# --- SYN+FIN to a listener: dropped -----------------------------------------------------------
silent("SYN+FIN to the listener", [IP(src=MY_IP, dst=LT_IP) / TCP(sport=50009, dport=80, seq=5, flags="SF")], {50009})
count("tcp_syn_fin")

# --- no connection: RFC 9293 §3.10.7.1/2 -------------------------------------------------------
send(IP(src=MY_IP, dst=LT_IP) / TCP(sport=50010, dport=80, seq=77, ack=0x12345678, flags="A"))
count("rst_for_ack")
rst, _ = recv_until(lambda q: q[TCP].dport == 50010)
if rst is None or rst[TCP].flags != "R" or rst[TCP].seq != 0x12345678:
    fail(f"ACK to a listener: want <SEQ=SEG.ACK><CTL=RST>, got {rst.summary() if rst else 'nothing'}")
print("ok   ACK to the listener (no cookie): RST with SEQ=SEG.ACK", flush=True)
silent("RST to the listener", [IP(src=MY_IP, dst=LT_IP) / TCP(sport=50011, dport=80, seq=5, flags="R")], {50011})
count("tcp_no_conn_dropped")

# --- an established connection (the kernel's own socket): RFC 9293 §3.10.7.4, RFC 5961 ---------
conn = socket.create_connection((LT_IP, 7), timeout=5)
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
kport = conn.getsockname()[1]
# Our socket's port is outside the BPF filter's range: a second socket for its frames.
csock = conf.L2socket(iface=IFACE, filter=f"tcp and src host {LT_IP} and src port 7 and dst port {kport}")


def recv_conn(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([csock], [], [], max(0, deadline - time.monotonic()))
        if not r:
            continue
        p = csock.recv()
        if p is not None and TCP in p and pred(p):
            return p
    return None


conn.sendall(b"hello")
echo = recv_conn(lambda p: len(p[TCP].payload) > 0)
got = b""
while len(got) < 5:
    got += conn.recv(5 - len(got))
if got != b"hello" or echo is None:
    fail(f"echo before the cases: {got!r}")
lt_snd_nxt = echo[TCP].seq + len(echo[TCP].payload)  # linetcp's SND.NXT
lt_rcv_nxt = echo[TCP].ack                           # linetcp's RCV.NXT = our next sequence number


def seg(seq, flags, payload=b"", ack=None):
    p = IP(src=MY_IP, dst=LT_IP) / TCP(sport=kport, dport=7, seq=seq % 2**32,
                                       ack=lt_snd_nxt if ack is None else ack, flags=flags, window=1000)
    return p / Raw(payload) if payload else p


def expect_ack(name, frame, counter):
    """Sends `frame`; linetcp must answer <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, nothing more."""
    send(frame)
    count(counter)
    a = recv_conn(lambda p: p[TCP].seq == lt_snd_nxt and p[TCP].ack == lt_rcv_nxt and p[TCP].flags == "A"
                  and len(p[TCP].payload) == 0)
    if a is None:
        fail(f"{name}: no <SEQ={lt_snd_nxt}><ACK={lt_rcv_nxt}><CTL=ACK> within 5 s")
    print(f"ok   {name}: ACK SEQ=SND.NXT ACK=RCV.NXT", flush=True)


# Far outside the window (1 GiB ahead): RFC 9293 §3.10.7.4 "If an incoming segment is not
# acceptable, an acknowledgment should be sent in reply ... <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>",
# then dropped.
expect_ack("data segment 1 GiB beyond the window", seg(lt_rcv_nxt + 2**30, "PA", b"x" * 10), "out_of_window")
# RST in the window but not at RCV.NXT: RFC 5961 §3.2, a challenge ACK; the connection stays.
expect_ack("RST in window, wrong sequence number", seg(lt_rcv_nxt + 1000, "R", ack=0), "challenge_rst")
# RST outside the window: RFC 5961 §3.2 (and RFC 9293 §3.10.7.4), dropped silently.
send(seg(lt_rcv_nxt + 2**30, "R", ack=0))
count("resets_ignored")
barrier()
if recv_conn(lambda p: True, timeout=0.05) is not None:
    fail("RST outside the window: expected silence, got an answer")
print("ok   RST outside the window: no answer", flush=True)
# SYN on a synchronized connection, in window: RFC 5961 §4.2 (RFC 9293 §3.10.7.4): challenge ACK.
expect_ack("SYN on the established connection", seg(lt_rcv_nxt, "S", ack=0), "challenge_syn")
# SYN+FIN on it: the SYN rule applies first.
expect_ack("SYN+FIN on the established connection", seg(lt_rcv_nxt, "SF", ack=0), "challenge_syn")
# In-window data with a bad checksum (RFC9293 MUST-3): dropped; the stream is unchanged (checked below).
f = Ether(raw(eth() / seg(lt_rcv_nxt, "PA", b"EVIL!")))
f[TCP].chksum ^= 0x1111
send(f)
count("tcp_bad_checksum")
barrier()
if recv_conn(lambda p: True, timeout=0.05) is not None:
    fail("bad checksum on the connection: expected silence, got an answer")
print("ok   in-window data with a bad checksum: no answer", flush=True)
# The connection is unharmed: the next bytes echo back exactly (no "EVIL!", no reset).
conn.sendall(b"world")
got = b""
while len(got) < 5:
    chunk = conn.recv(5 - len(got))
    if not chunk:
        fail("the connection closed after the cases")
    got += chunk
if got != b"world":
    fail(f"echo after the cases: {got!r}, want b'world'")
print("ok   the connection survived every case: 'world' echoed exactly", flush=True)
lt_snd_nxt += 5
lt_rcv_nxt += 5
# Data whose options end in an illegal length (RFC9293 MUST-7): the segment is still used. We send
# the socket's next bytes ourselves: linetcp must acknowledge them (ACK = RCV.NXT + 5) and echo
# them. (The kernel drops that echo at first, as it acknowledges bytes the socket has not sent
# yet; once the socket sends its own copy, a duplicate linetcp only acknowledges, the echo's
# retransmission gets through.)
hdr = bytearray(raw(TCP(sport=kport, dport=7, seq=lt_rcv_nxt % 2**32, ack=lt_snd_nxt, flags="PA",
                        window=1000)))[:20]
opts = b"\x01\x01\x08\x01"  # NOP NOP, timestamps of length 1
hdr[12] = (5 + len(opts) // 4) << 4
seg = bytes(hdr) + opts + b"again"
seg = seg[:16] + tcp_checksum(seg[:16] + b"\0\0" + seg[18:]) + seg[18:]
send(IP(src=MY_IP, dst=LT_IP, proto=6) / Raw(seg))
count("tcp_bad_options")
count("options_malformed")
a = recv_conn(lambda p: p[TCP].ack == (lt_rcv_nxt + 5) % 2**32)
if a is None:
    fail("data with an illegal option length: not acknowledged within 5 s (dropped?)")
conn.sendall(b"again")
conn.settimeout(15)
got = b""
while len(got) < 5:
    chunk = conn.recv(5 - len(got))
    if not chunk:
        fail("the connection closed after data with a bad option")
    got += chunk
if got != b"again":
    fail(f"data with an illegal option length: echo {got!r}, want b'again'")
conn.close()
print("ok   data with an illegal option length: used (acknowledged, 'again' echoed; MUST-7)", flush=True)

# --- a SYN flood on the listener (spoofed sources in our subnet, none of which answers ARP) ----
frames = [eth() / IP(src=f"{SUBNET}.{100 + i % 100}", dst=LT_IP) /
          TCP(sport=50100 + i, dport=80, seq=100000 * i, flags="S", options=[("MSS", 1460)])
          for i in range(FLOOD)]
fsock = conf.L2socket(iface=IFACE, filter=f"tcp and src host {LT_IP} and dst net {SUBNET}.0/24 and not dst host {MY_IP}")
for fr in frames:
    sock.send(fr)
count("flood_syns", FLOOD)
barrier()
cookies = 0
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    r, _, _ = select.select([fsock], [], [], 0.2)
    if not r:
        if cookies > 0:
            break
        continue
    p = fsock.recv()
    if p is not None and TCP in p and p[TCP].flags == "SA":
        i = p[TCP].dport - 50100
        if p[TCP].ack != 100000 * i + 1:
            fail(f"flood: SYN-ACK {p.summary()} acknowledges {p[TCP].ack}, want {100000 * i + 1}")
        cookies += 1
sent["flood_syn_acks_seen"] = cookies
print(f"ok   SYN flood of {FLOOD}: {cookies} SYN-ACKs (cookies) seen", flush=True)
print(json.dumps(sent), flush=True)
