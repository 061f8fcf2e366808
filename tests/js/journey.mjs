// An independently written client: ocpp-rpc in strict mode validates every message it sends
// and every reply it receives against the official OCPP JSON schemas. A schema violation in
// a gateway reply makes the call reject and this script exit non-zero.
// Usage: node journey.mjs <ws-endpoint> <identity> <password> <ocpp1.6|ocpp2.0.1> <t0-epoch-s>
import { RPCClient } from "ocpp-rpc";

const [endpoint, identity, password, protocol, t0s] = process.argv.slice(2);
const t0 = Number(t0s) * 1000;
const at = (minutes) => new Date(t0 + minutes * 60000).toISOString();
const out = { protocol, replies: {} };

const cli = new RPCClient({ endpoint, identity, password, protocols: [protocol], strictMode: true,
  reconnect: false });
await cli.connect();
if (cli.protocol !== protocol) throw new Error(`negotiated ${cli.protocol}`);

if (protocol === "ocpp1.6") {
  out.replies.boot = await cli.call("BootNotification", { chargePointVendor: "RPC", chargePointModel: "Strict" });
  out.replies.authorize = await cli.call("Authorize", { idTag: "04AA11BB22CC33" });
  const start = await cli.call("StartTransaction", { connectorId: 1, idTag: "04AA11BB22CC33", meterStart: 1000, timestamp: at(0) });
  out.transactionId = String(start.transactionId);
  await cli.call("StatusNotification", { connectorId: 1, errorCode: "NoError", status: "Charging", timestamp: at(0) });
  await cli.call("MeterValues", { connectorId: 1, transactionId: start.transactionId, meterValue: [
    { timestamp: at(30), sampledValue: [{ value: "8000", unit: "Wh", measurand: "Energy.Active.Import.Register" }] }] });
  await cli.call("StatusNotification", { connectorId: 1, errorCode: "NoError", status: "SuspendedEV", timestamp: at(40) });
  out.replies.stop = await cli.call("StopTransaction", { transactionId: start.transactionId, idTag: "04AA11BB22CC33", meterStop: 10000, timestamp: at(60), reason: "EVDisconnected",
    transactionData: [{ timestamp: at(40), sampledValue: [{ value: "10000" }] }] });
  out.replies.heartbeat = await cli.call("Heartbeat", {});
} else {
  out.transactionId = "rpc-201";
  out.replies.boot = await cli.call("BootNotification", { reason: "PowerUp", chargingStation: { model: "Strict", vendorName: "RPC" } });
  const ev = (eventType, seqNo, minutes, kwh, chargingState, extra = {}) => ({
    eventType, seqNo, timestamp: at(minutes), triggerReason: "MeterValuePeriodic", offline: true,
    transactionInfo: { transactionId: out.transactionId, chargingState }, evse: { id: 1, connectorId: 1 },
    meterValue: [{ timestamp: at(minutes), sampledValue: [{ value: kwh, unitOfMeasure: { unit: "kWh" }, measurand: "Energy.Active.Import.Register" }] }],
    ...extra });
  out.replies.started = await cli.call("TransactionEvent", ev("Started", 0, 0, 1, "Charging", { idToken: { idToken: "04AA11BB22CC33", type: "ISO14443" }, triggerReason: "Authorized" }));
  await cli.call("TransactionEvent", ev("Updated", 1, 30, 8, "Charging"));
  await cli.call("TransactionEvent", ev("Updated", 2, 40, 10, "SuspendedEV"));
  const ended = ev("Ended", 3, 60, 10, "SuspendedEV", { triggerReason: "EVDeparted" });
  ended.transactionInfo.stoppedReason = "EVDisconnected";
  out.replies.ended = await cli.call("TransactionEvent", ended);
  out.replies.heartbeat = await cli.call("Heartbeat", {});
}
await cli.close();
console.log(JSON.stringify(out));
