"""SentEval's tasks and their files, read exactly as SentEval reads them (see :mod:`.readers`)."""

from textcl.data.senteval.readers import (
                                          load_binary,
                                          load_mrpc,
                                          load_sick,
                                          load_sst2,
                                          load_sts_year,
                                          load_stsb,
                                          load_task,
                                          load_trec,
)
from textcl.data.senteval.tasks import (
                                          ALL_TASKS,
                                          EVAL_SPLITS,
                                          STS_TASKS,
                                          STS_YEAR_SUBSETS,
                                          TRANSFER_TASKS,
                                          TREC_CLASSES,
                                          PairData,
                                          TextData,
                                          available_tasks,
                                          check_task,
                                          parse_tasks,
                                          resolve_data_dir,
                                          task_available,
                                          task_files,
)

__all__ = ["ALL_TASKS", "STS_TASKS", "TRANSFER_TASKS", "STS_YEAR_SUBSETS", "EVAL_SPLITS", "TREC_CLASSES", "PairData",
           "TextData", "check_task", "parse_tasks", "resolve_data_dir", "task_files", "task_available",
           "available_tasks", "load_task", "load_sts_year", "load_stsb", "load_sick", "load_binary", "load_sst2",
           "load_trec", "load_mrpc"]
