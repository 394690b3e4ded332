"""An independent ONVIF client (python-onvif-zeep 0.2.12, WSDL-driven via zeep) run against our ONVIF camera
simulator by gateway/test/sim/onvif-zeep.test.ts. It prints one JSON object with what it read, so the test can
compare it with what the simulator was configured with. Usage: zeep_client.py HOST PORT USER PASSWORD"""
import json
import sys

import os

from onvif import ONVIFCamera, ONVIFService
import zeep.helpers
from zeep.plugins import HistoryPlugin

EVENTS_NS = "http://www.onvif.org/ver10/events/wsdl"


def service_at(cam, address, binding):
    """A client of one binding of events.wsdl at a subscription address (onvif-zeep only builds the first one)."""
    wsdl = os.path.join(cam.wsdl_dir, "events.wsdl")
    return ONVIFService(address, cam.user, cam.passwd, wsdl, dt_diff=cam.dt_diff, binding_name="{%s}%s" % (EVENTS_NS, binding))


def notification(message, envelope):
    """Topic and SimpleItems of a NotificationMessage (its Message is xsd:any: zeep leaves it as XML). zeep drops the
    text of the mixed-content Topic element, so the topic is read from the envelope zeep received (HistoryPlugin)."""
    topics = [t.text for t in envelope.iter() if isinstance(t.tag, str) and t.tag.endswith("}Topic")]
    topic = topics[0] if topics else message.Topic._value_1
    element = message.Message._value_1
    items = {}
    for node in element.iter():
        if node.tag.endswith("SimpleItem"):
            items[node.get("Name")] = node.get("Value")
    return {"topic": topic, "items": items}


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
    # Within the node's pan/tilt range; no Zoom: the simulated camera of the test has no zoom space.
    move.Velocity = {"PanTilt": {"x": 0.5, "y": -0.25}}
    ptz.ContinuousMove(move)
    ptz.Stop({"ProfileToken": token, "PanTilt": True, "Zoom": True})
    preset = ptz.SetPreset({"ProfileToken": token, "PresetName": "gate"})
    out["presetToken"] = preset
    out["presets"] = [{"token": p.token, "name": p.Name} for p in ptz.GetPresets({"ProfileToken": token})]
    ptz.GotoPreset({"ProfileToken": token, "PresetToken": preset})
    ptz.GotoHomePosition({"ProfileToken": token})
    ptz.RelativeMove({"ProfileToken": token, "Translation": {"PanTilt": {"x": 0.1, "y": 0.2}}})
    ptz.RemovePreset({"ProfileToken": token, "PresetToken": preset})
    out["presetsAfterRemove"] = len(ptz.GetPresets({"ProfileToken": token}) or [])

    def spaces(node):
        sp = node.SupportedPTZSpaces
        pt = sp.ContinuousPanTiltVelocitySpace
        zoom = sp.ContinuousZoomVelocitySpace
        return {
            "token": node.token,
            "panTilt": {"x": plain(pt[0].XRange), "y": plain(pt[0].YRange)} if pt else None,
            "zoom": plain(zoom[0].XRange) if zoom else None,
        }

    out["nodes"] = [spaces(n) for n in ptz.GetNodes()]
    out["node"] = spaces(ptz.GetNode({"NodeToken": profiles[0].PTZConfiguration.NodeToken}))

    imaging = cam.create_imaging_service()
    source = profiles[0].VideoSourceConfiguration.SourceToken
    settings = imaging.GetImagingSettings({"VideoSourceToken": source})
    out["exposureBefore"] = {"mode": settings.Exposure.Mode, "iris": settings.Exposure.Iris}
    options = imaging.GetOptions({"VideoSourceToken": source})
    out["irisRange"] = plain(options.Exposure.Iris)
    out["focusSpeedRange"] = plain(imaging.GetMoveOptions({"VideoSourceToken": source}).Continuous.Speed)
    imaging.Move({"VideoSourceToken": source, "Focus": {"Continuous": {"Speed": -0.5}}})
    imaging.Stop({"VideoSourceToken": source})
    imaging.SetImagingSettings({"VideoSourceToken": source, "ImagingSettings": {"Exposure": {"Mode": "MANUAL", "Iris": -4.4}}})
    after = imaging.GetImagingSettings({"VideoSourceToken": source})
    out["exposureAfter"] = {"mode": after.Exposure.Mode, "iris": after.Exposure.Iris}

    events = cam.create_events_service()
    sub = events.CreatePullPointSubscription({"InitialTerminationTime": "PT60S"})
    out["subscription"] = sub.SubscriptionReference.Address._value_1
    pullpoint = cam.create_pullpoint_service()
    pulled = pullpoint.PullMessages({"Timeout": "PT1S", "MessageLimit": 10})
    out["pulled"] = len(pulled.NotificationMessage or [])

    # Our own subscription, pulled while the test raises a motion event on the camera (it waits for this pull).
    ours = service_at(cam, out["subscription"], "PullPointSubscriptionBinding")
    history = HistoryPlugin()
    ours.zeep_client.plugins.append(history)
    held = ours.PullMessages({"Timeout": "PT10S", "MessageLimit": 10})
    out["events"] = [notification(m, history.last_received["envelope"]) for m in (held.NotificationMessage or [])]
    manager = service_at(cam, out["subscription"], "SubscriptionManagerBinding")
    renewed = manager.Renew({"TerminationTime": "PT120S"})
    out["renewed"] = str(renewed.TerminationTime)
    manager.Unsubscribe()
    try:
        ours.PullMessages({"Timeout": "PT1S", "MessageLimit": 10})
        out["pullAfterUnsubscribe"] = "answered"
    except Exception as err:
        out["pullAfterUnsubscribe"] = str(err)

    # Wrong password: a fault, not an answer.
    try:
        ONVIFCamera(host, port, user, password + "-wrong", adjust_time=True).devicemgmt.GetDeviceInformation()
        out["wrongPassword"] = "accepted"
    except Exception as err:  # onvif.exceptions.ONVIFError wrapping zeep's Fault
        out["wrongPassword"] = str(err)

    print(json.dumps(out))


if __name__ == "__main__":
    main()
