/* Kernels of quant.c: INFD_KERNEL(key, argument count, function). */
INFD_KERNEL("quantized_decomposed::quantize_per_tensor.out", 8, infd__k_quantize_per_tensor_out)
INFD_KERNEL("quantized_decomposed::quantize_per_tensor.Tensor_out", 8, infd__k_quantize_per_tensor_tensor_out)
INFD_KERNEL("quantized_decomposed::dequantize_per_tensor.out", 9, infd__k_dequantize_per_tensor_out)
INFD_KERNEL("quantized_decomposed::dequantize_per_tensor.Tensor_out", 9, infd__k_dequantize_per_tensor_tensor_out)
INFD_KERNEL("quantized_decomposed::quantize_per_channel.out", 9, infd__k_quantize_per_channel_out)
INFD_KERNEL("quantized_decomposed::dequantize_per_channel.out", 10, infd__k_dequantize_per_channel_out)
INFD_KERNEL("quantized_decomposed::choose_qparams.Tensor_out", 8, infd__k_choose_qparams_tensor_out)
/* Arm's cortex_m:: library names the same computation (int8 only there) */
INFD_KERNEL("cortex_m::quantize_per_tensor.out", 8, infd__k_quantize_per_tensor_out)
INFD_KERNEL("cortex_m::dequantize_per_tensor.out", 8, infd__k_cortex_m_dequantize_per_tensor_out)
