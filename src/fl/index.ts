export { epsilonOf, noiseMultiplierFor } from './accountant.js'
export { aggregate, AGGREGATION_RULES, allFinite, clipInPlace, coordinateMedian, dpFedAvg, fedAvg, l2norm, multiKrum, trimmedMean, type AggregationRule, type ClientUpdate } from './aggregate.js'
export { featureSums, parseTabular, readTabular, splitClients, standardisation, stratifiedSplit, subset, type Dataset } from './data.js'
export { accuracy, predictLogistic, standardiser, trainLogistic, type LogisticModel } from './logisticRegression.js'
export { DEFAULT_SPECS, evaluate, initParams, modelShape, parseModelSpec, predict, standardise, trainLocal, type ModelShape, type ModelSpec, type TensorSlot } from './model.js'
export { SeededRandom, secureGaussian } from './random.js'
export { decodeSafetensors, encodeSafetensors, type Tensor } from './safetensors.js'
export { flCancelEffect, flCommitEffect, flFinalizeEffect, flTaskEffect, type FlCancelPayload, type FlCommitPayload, type FlFinalizePayload, type FlTaskPayload } from './chainEffects.js'
export { parseAttack, simulate, type Attack, type RoundReport, type SimulateOptions, type SimulateReport } from './simulate.js'
export {
  aggregateRound,
  cancelTask,
  createTask,
  fromSafetensors,
  gateDataset,
  readTask,
  REASON_NAMES,
  REJECT,
  runClient,
  committedRun,
  submitForeignUpdate,
  submitUpdate,
  taskStatus,
  tasksTrainedOn,
  toSafetensors,
  UPDATE_PAYLOAD_TYPE,
  type ClientRunReport,
  type FlContext,
  type OnChainTask,
  type RoundReport as FlRoundReport,
  type TaskSpec,
  type UpdateSource,
} from './coordinator.js'
export { exchangePaths, FL_TASK_MESSAGE, readExchangeFile, writeExchangeFile, type FlTaskMessageBody } from './exchange.js'
