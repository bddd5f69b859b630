"""Dynamic Memory Networks (Kumar et al., 2016) and DMN+ (Xiong et al., 2016) in PyTorch."""

__version__ = "0.1.0"
