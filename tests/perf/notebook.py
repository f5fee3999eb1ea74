"""The tutorial's notebook code as printed (docs/benchmarks.md: the seed preset against it), for comparison runs:
    OMP_NUM_THREADS=1 .venv/bin/python tests/perf/notebook.py ROOT > notebook.log
ROOT is a folder torchvision's FashionMNIST accepts (fmnist.data.dataset.torchvision_root makes one). Changes to the printed
code, nothing else: the missing imports (random, time, sys) added, ROOT read from the command line, download=False,
and the matplotlib import commented out (not installed here; only the plots after training use it)."""
# ruff: noqa
# 여러분의 정신 건강을 위해, 그냥 프로젝트 옮길 때마다 복붙 해서 쓰는 것을 추천 드립니다.
import random
import time
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchvision.datasets import FashionMNIST
from torchvision import transforms
from torch.utils.data import DataLoader
import numpy as np
import pandas as pd
# import matplotlib.pyplot as plt  (not installed here; only the plots after training use it)


ROOT = sys.argv[1]

RANDOM_SEED = 123
DEVICE = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')

custom_train_transform = transforms.Compose([  
                                             transforms.ToTensor(),
                                             transforms.Normalize(mean=(0.5,), std=(0.5,))
])

custom_test_transform = transforms.Compose([
                                             transforms.ToTensor(),
                                             transforms.Normalize(mean=(0.5,), std=(0.5,))
])



BATCH_SIZE = 64

train_dataset = FashionMNIST(ROOT, train=True, download=False, transform=custom_train_transform)

train_loader = DataLoader(dataset=train_dataset,
                          batch_size=BATCH_SIZE,
                          shuffle=True,
                          drop_last=True,
                          num_workers=2)


test_dataset = FashionMNIST(ROOT, train=False, download=False, transform=custom_test_transform)

test_loader = DataLoader(dataset=test_dataset,
                         batch_size=BATCH_SIZE,
                         shuffle=False,
                         num_workers=2)


for batch_idx, (x, y) in enumerate(train_loader):
    print(' | Batch size:', y.size()[0])

    x = x.to(DEVICE)
    y = y.to(DEVICE)
    
    print("X shape: ", x.shape)
    print("Y shape: ", y.shape)

    print('break minibatch for-loop')
    break










class DNN(torch.nn.Module):
    def __init__(self, num_features, num_hidden_1, num_hidden_2, num_hidden_3, num_classes):
        super(DNN, self).__init__()
        
        self.num_classes = num_classes
        
        self.linear_1 = torch.nn.Linear(num_features, num_hidden_1)
        self.linear_2 = torch.nn.Linear(num_hidden_1, num_hidden_2)
        self.linear_3 = torch.nn.Linear(num_hidden_2, num_hidden_3)
        self.linear_out = torch.nn.Linear(num_hidden_3, num_classes)
        
    def forward(self, x):
        ### activation 함수 변경 가능
        ### (optional)레이어간의 연결 추가, 변경 가능
        out = self.linear_1(x)
        out = torch.relu(out)
        out = self.linear_2(out)
        out = torch.relu(out)
        out = self.linear_3(out)
        out = torch.relu(out)
        logits = self.linear_out(out)
        probas = torch.sigmoid(logits)
        return logits, probas
    
random.seed(RANDOM_SEED)
torch.manual_seed(RANDOM_SEED)

model = DNN(num_features=28*28,
            num_hidden_1=1024,
            num_hidden_2=128,
            num_hidden_3=64,
            num_classes=10)

model = model.to(DEVICE)



optimizer = torch.optim.SGD(model.parameters(), lr=0.01)  # 파라미터 학습을 위한 optimizer, 경사 하강법에 도움을 줌
NUM_EPOCHS = 20


def compute_accuracy_and_loss(model, data_loader, device):  # 손실 계산
    correct_pred, num_examples = 0, 0
    cross_entropy = 0.
    for i, (features, targets) in enumerate(data_loader):  # 미니 배치 iteration
            
        features = features.view(-1, 28*28).to(device)  # view를 통해 [batch_size * 784] 크기로 변경
        targets = targets.to(device)  # 타겟

        logits, probas = model(features)  # 모델 결과 반환 (결과, sigmoid 적용한 결과)
        cross_entropy += F.cross_entropy(logits, targets).item()  # 타겟과 연산 결과의 cost 결과
        _, predicted_labels = torch.max(probas, 1)  # 예측 결과 반환
        num_examples += targets.size(0)  # input 개수 반환
        correct_pred += (predicted_labels == targets).sum()  # 맞은 갯수 반환
    return correct_pred.float()/num_examples * 100, cross_entropy/num_examples  # 정확도, cost 평균
    

start_time = time.time()  # 시작 시간 계산
train_acc_lst, test_acc_lst = [], []  # 훈련 데이터 정확도, 테스트 데이터 정확도
train_loss_lst, test_loss_lst = [], []  # 훈련 데이터 손실함수, 테스트 데이터 손실함수

for epoch in range(NUM_EPOCHS):  # EPOCH 만큼 반복
    
    model.train()  # 학습 모드
    
    for batch_idx, (features, targets) in enumerate(train_loader):  # 미니 배치 iteration
    
        ### PREPARE MINIBATCH
        features = features.view(-1, 28*28).to(DEVICE)
        targets = targets.to(DEVICE)
            
        ### FORWARD AND BACK PROP
        logits, probas = model(features)  # 순전파
        cost = F.cross_entropy(logits, targets)  # 예측 결과에 대한 cost 계산
        optimizer.zero_grad()  # 기울기 0 초기화
        
        cost.backward()  # 역전파
        
        ### UPDATE MODEL PARAMETERS
        optimizer.step()  # 모델 파라미터 업데이트
        
        ### LOGGING
        if not batch_idx % 40:
            print (f'Epoch: {epoch+1:03d}/{NUM_EPOCHS:03d} | '
                   f'Batch {batch_idx:03d}/{len(train_loader):03d} |' 
                   f' Cost: {cost:.4f}')

    # 매 Epoch마다 evaluation을 진행합니다. 
    # Epoch마다 Loss를 기록하여 학습과정을 살펴보고 Underfitting, Overfitting 여부를 확인합니다.
    model.eval()
    with torch.set_grad_enabled(False): # Gradient 계산이 안되도록
        train_acc, train_loss = compute_accuracy_and_loss(model, train_loader, device=DEVICE) # train acc, loss 계산
        test_acc, test_loss = compute_accuracy_and_loss(model, test_loader, device=DEVICE)    # test acc, loss 계산
        
        # list에 train, test의  acc, loss 추가
        train_acc_lst.append(train_acc)
        test_acc_lst.append(test_acc)
        train_loss_lst.append(train_loss)
        test_loss_lst.append(test_loss)
        
        # 로깅
        print(f'Epoch: {epoch+1:03d}/{NUM_EPOCHS:03d} Train Acc.: {train_acc:.2f}%'
              f' | Test Acc.: {test_acc:.2f}%')
    
    # 1 epoch 학습 소요시간
    elapsed = (time.time() - start_time)/60
    print(f'Time elapsed: {elapsed:.2f} min')

# 총 학습 소요시간
elapsed = (time.time() - start_time)/60
print(f'Total Training Time: {elapsed:.2f} min')
