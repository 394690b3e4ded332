#!/usr/bin/python3
"""GStreamer's RTSP server (gst-rtsp-server, Debian) as an independent RTSP peer for the gateway's tests.

Run with Debian's own /usr/bin/python3 (it has `gi`). Usage:
  gst_rtsp_server.py --port 8554 [--user U --password P] [--transport tcp|udp|both]
Mounts (test patterns, 25 fps, a keyframe every second):
  /h264        H.264 640x360 + G.711A          /h264-aac   H.264 640x360 + AAC (RFC 3640)
  /h265        H.265 640x360                   /bframes    H.264 with B-frames (2, no pyramid)
  /bframes-pyramid  H.264, 3 B-frames with B-pyramid (reorder depth 2)
  /bframes-h265     H.265 with B-frames
Prints "READY <port>" on stdout once it listens; stops on SIGTERM/SIGINT.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

VIDEO = "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=25/1"
X264 = "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=800"
# The B-frame mounts ask for the High profile: without it rtph264pay's caps make x264enc encode Constrained
# Baseline, which has no B-frames whatever `bframes` says.
MOUNTS = {
    "/h264": f"( {VIDEO} ! {X264} ! rtph264pay name=pay0 pt=96 config-interval=-1 "
    "audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8 )",
    "/h264-aac": f"( {VIDEO} ! {X264} ! rtph264pay name=pay0 pt=96 config-interval=-1 "
    "audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=44100,channels=1 ! avenc_aac ! rtpmp4gpay name=pay1 pt=97 )",
    "/h265": f"( {VIDEO} ! x265enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=800 ! rtph265pay name=pay0 pt=96 config-interval=-1 )",
    "/bframes": f"( {VIDEO} ! x264enc speed-preset=ultrafast key-int-max=25 bframes=2 b-adapt=false bitrate=800 ! video/x-h264,profile=high ! rtph264pay name=pay0 pt=96 config-interval=-1 )",
    "/bframes-pyramid": f"( {VIDEO} ! x264enc speed-preset=ultrafast key-int-max=25 bframes=3 b-pyramid=true b-adapt=false bitrate=800 ! video/x-h264,profile=high ! rtph264pay name=pay0 pt=96 config-interval=-1 )",
    "/bframes-h265": f"( {VIDEO} ! x265enc speed-preset=ultrafast key-int-max=25 bitrate=800 option-string=\"bframes=3:b-adapt=0:open-gop=0\" ! rtph265pay name=pay0 pt=96 config-interval=-1 )",
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--transport", choices=["tcp", "udp", "both"], default="both")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    protocols = {
        "tcp": GstRtsp.RTSPLowerTrans.TCP,
        "udp": GstRtsp.RTSPLowerTrans.UDP,
        "both": GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP,
    }[args.transport]

    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_digest(args.user, args.password or "", token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        server.set_auth(auth)

    for path, launch in MOUNTS.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(True)
        factory.set_protocols(protocols)
        if args.user:
            permissions = GstRtspServer.RTSPPermissions()
            permissions.add_role("user")
            permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
            permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
            factory.set_permissions(permissions)
        mounts.add_factory(path, factory)

    if server.attach(None) == 0:
        print("cannot listen", file=sys.stderr)
        sys.exit(1)
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY {args.port}", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
