export { accuracy, predictLogistic, standardiser, trainLogistic, type LogisticModel } from './logisticRegression.js'
export { decodeSafetensors, encodeSafetensors, type Tensor } from './safetensors.js'
