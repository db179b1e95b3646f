# Installs the ncp build tree into a scratch prefix, then configures, builds and runs the consumer against it
# (WITH_CUBLAS: also its CUDA program, compiled for CUDA_ARCHITECTURE; WITH_ONNX: also its ONNX program).
file(REMOVE_RECURSE ${WORK_DIR})
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "consumer step failed (${result}): ${ARGN}")
  endif()
endfunction()
step(${CMAKE_COMMAND} --install ${NCP_BUILD_DIR} --prefix ${WORK_DIR}/prefix)
step(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
     -DCMAKE_BUILD_TYPE=Release -DWITH_CUBLAS=${WITH_CUBLAS} -DWITH_ONNX=${WITH_ONNX}
     -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURE})
step(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
step(${WORK_DIR}/build/consumer)
if(WITH_CUBLAS)
  step(${WORK_DIR}/build/consumer_gpu)
endif()
if(WITH_ONNX)
  step(${WORK_DIR}/build/consumer_onnx)
endif()
