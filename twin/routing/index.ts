/** Emergency routing and signal pre-emption: the public surface the server uses. */
export {
  planEmergencyRoute,
  prepareEmergencyRouting,
  updateEmergencyEta,
  emergencyRouting,
  EmergencyRouteRequestSchema,
  EmergencyRouteResponseSchema,
  EtaUpdateRequestSchema,
  EtaUpdateResponseSchema,
  RouteJsonSchema,
  type EmergencyRouteRequest,
  type EmergencyRouteResponse,
  type EtaUpdateRequest,
  type EtaUpdateResponse,
  type EmergencyRoutingContext,
} from './EmergencyRouting.ts';
export { FastestRouter, NoRouteError, RouteEndpointSchema, RouteQuerySchema, evaluateRoute, type Route, type RouteLeg } from './FastestRoute.ts';
export { roadGraph, roadGraphFromRoadnet, nearestRoad, type RoadGraph } from './RoadGraph.ts';
export { linkTravelTimes, vehicleTravelTime, TravelTimeOptionsSchema, type ForecastHook, type LinkTimes } from './TravelTimeModel.ts';
export { preemptionWindows, PreemptionWindowSchema, PreemptionOptionsSchema, type PreemptionWindow } from './PreemptionWindow.ts';
export { PreemptionController, type PreemptionReport, type PreemptionControllerOptions } from './PreemptionController.ts';
export { EmergencyTracker, EmergencyOptionsSchema, type EmergencyVehicleSpec, type EmergencyResult } from './EmergencyTracker.ts';
export { runEmergencyScenario, type EmergencyRunResult } from './EmergencyRun.ts';
