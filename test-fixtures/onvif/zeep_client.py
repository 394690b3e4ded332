"""An independent ONVIF client (python-onvif-zeep 0.2.12, WSDL-driven via zeep) run against our ONVIF camera
simulator by gateway/test/sim/onvif-zeep.test.ts. It prints one JSON object with what it read, so the test can
compare it with what the simulator was configured with. Usage: zeep_client.py HOST PORT USER PASSWORD"""
import json
import sys

from onvif import ONVIFCamera
import zeep.helpers


def plain(value):
    return json.loads(json.dumps(zeep.helpers.serialize_object(value), default=str))


def main():
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    out = {}
    cam = ONVIFCamera(host, port, user, password, adjust_time=True)
    dev = cam.devicemgmt
    t = dev.GetSystemDateAndTime()
    out["utc"] = plain(t.UTCDateTime)
    out["info"] = plain(dev.GetDeviceInformation())
    out["xaddrs"] = dict(cam.xaddrs)
    out["services"] = [s["Namespace"] for s in plain(dev.GetServices(False))]
    out["interfaces"] = [n["Info"]["Name"] for n in plain(dev.GetNetworkInterfaces())]

    media = cam.create_media_service()
    profiles = media.GetProfiles()
    out["profiles"] = [
        {
            "token": p.token,
            "encoding": p.VideoEncoderConfiguration.Encoding,
            "width": p.VideoEncoderConfiguration.Resolution.Width,
            "height": p.VideoEncoderConfiguration.Resolution.Height,
            "ptz": p.PTZConfiguration is not None,
        }
        for p in profiles
    ]
    token = profiles[0].token
    req = media.create_type("GetStreamUri")
    req.ProfileToken = token
    req.StreamSetup = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
    out["streamUri"] = media.GetStreamUri(req).Uri
    out["snapshotUri"] = media.GetSnapshotUri({"ProfileToken": token}).Uri

    ptz = cam.create_ptz_service()
    move = ptz.create_type("ContinuousMove")
    move.ProfileToken = token
    move.Velocity = {"PanTilt": {"x": 0.5, "y": -0.25}, "Zoom": {"x": 0.0}}
    ptz.ContinuousMove(move)
    ptz.Stop({"ProfileToken": token, "PanTilt": True, "Zoom": True})
    preset = ptz.SetPreset({"ProfileToken": token, "PresetName": "gate"})
    out["presetToken"] = preset
    out["presets"] = [{"token": p.token, "name": p.Name} for p in ptz.GetPresets({"ProfileToken": token})]
    ptz.GotoPreset({"ProfileToken": token, "PresetToken": preset})
    ptz.GotoHomePosition({"ProfileToken": token})

    events = cam.create_events_service()
    sub = events.CreatePullPointSubscription({"InitialTerminationTime": "PT60S"})
    out["subscription"] = sub.SubscriptionReference.Address._value_1
    pullpoint = cam.create_pullpoint_service()
    pulled = pullpoint.PullMessages({"Timeout": "PT1S", "MessageLimit": 10})
    out["pulled"] = len(pulled.NotificationMessage or [])

    # Wrong password: a fault, not an answer.
    try:
        ONVIFCamera(host, port, user, password + "-wrong", adjust_time=True).devicemgmt.GetDeviceInformation()
        out["wrongPassword"] = "accepted"
    except Exception as err:  # onvif.exceptions.ONVIFError wrapping zeep's Fault
        out["wrongPassword"] = str(err)

    print(json.dumps(out))


if __name__ == "__main__":
    main()
